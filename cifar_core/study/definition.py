"""A study: one base config, its variants, the seeds each variant repeats over, and run ids.

Every run of a study is fully named up front (``<study id>-<index>-<variant>-s<seed>``), so the
study's ``study.json`` says which run folder holds which variant and seed before any run exists,
and a partly finished study can be picked up again by anyone who reads it.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cifar_core.errors import ConfigError
from cifar_core.runs.store import RUN_ID_PATTERN
from cifar_core.study.variants import Variant, ablation_variants, grid_variants, parse_grid
from cifar_core.train import TrainConfig

KINDS = ("ablation", "grid")
MAX_RUN_ID = 80
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PlannedRun:
    """One training run of the study."""

    variant: str
    seed: int
    run_id: str


@dataclass
class Study:
    """The definition written to ``study.json``; it never changes after creation."""

    id: str
    kind: str
    base: TrainConfig
    variants: list[Variant]
    seeds: list[int]
    runs_root: Path
    axes: dict[str, list[Any]] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    runs: list[PlannedRun] = field(default_factory=list)
    name: str | None = None  # the named study it was made from (``study --study NAME``), if any
    reference: str | None = None  # the arm every variant is compared with (default: see ``reference_variant``)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"Study kind must be one of {', '.join(KINDS)}; got {self.kind!r}.")
        if not self.variants:
            raise ConfigError("A study needs at least one variant.")
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ConfigError("Two variants of the study share a name.")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("A study needs one or more distinct seeds.")
        if not self.runs:  # seed by seed: a partly finished study already has every variant at its first seeds
            self.runs = [
                PlannedRun(variant.name, seed, run_id_for(self.id, index, variant.name, seed))
                for seed in self.seeds
                for index, variant in enumerate(self.variants)
            ]

    @property
    def reference_variant(self) -> str:
        """The arm the paired comparisons are against: the named reference, else ``none`` or the first variant."""
        names = [variant.name for variant in self.variants]
        if self.reference in names:
            return self.reference
        return "none" if "none" in names else names[0]

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ConfigError(f"Study {self.id} has no variant {name!r}.")

    def config_for(self, planned: PlannedRun) -> TrainConfig:
        """The base config with the variant's changes and the repeat's seed."""
        return self.base.replace(**self.variant(planned.variant).changes, seed=planned.seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "kind": self.kind,
            "created": self.created,
            "base": self.base.to_dict(),
            "variants": [variant.to_dict() for variant in self.variants],
            "seeds": list(self.seeds),
            "axes": self.axes,
            "runs_root": str(self.runs_root),
            "runs": [{"variant": run.variant, "seed": run.seed, "run_id": run.run_id} for run in self.runs],
            "name": self.name,
            "reference": self.reference,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Study:
        return cls(
            id=values["id"],
            kind=values["kind"],
            base=TrainConfig.from_dict(values["base"]),
            variants=[Variant.from_dict(variant) for variant in values["variants"]],
            seeds=[int(seed) for seed in values["seeds"]],
            runs_root=Path(values["runs_root"]),
            axes=dict(values.get("axes", {})),
            created=float(values["created"]),
            runs=[PlannedRun(run["variant"], int(run["seed"]), run["run_id"]) for run in values["runs"]],
            name=values.get("name"),
            reference=values.get("reference"),
            description=values.get("description", ""),
        )


def plan_study(
    base: TrainConfig,
    runs_root: Path,
    *,
    ablate: list[str] | None = None,
    grid: str | None = None,
    seeds: int = 1,
    study_id: str | None = None,
) -> Study:
    """A new study of ``base``: an ablation over ``ablate`` ops or a grid from ``grid`` text.

    The split seed is pinned (to the base's seed unless given), so every variant and every seed
    trains and validates on the same images: seeds then vary only initialisation, order and
    augmentation, and a difference between variants cannot come from easier validation images.
    """
    if base.split_seed is None:
        base = base.replace(split_seed=base.seed)
    if (ablate is None) == (grid is None):
        raise ConfigError("A study is either an ablation (augmentations) or a grid (field=values), one of the two.")
    if ablate is not None:
        kind, axes, variants = "ablation", {"augment_ops": list(ablate)}, ablation_variants(base, ablate)
    else:
        kind, axes = "grid", parse_grid(grid, base)
        variants = grid_variants(base, axes)
    return Study(study_id or new_study_id(kind), kind, base, variants, seeds_from(base.seed, seeds), Path(runs_root).resolve(), axes)


def new_study_id(kind: str) -> str:
    """``<kind>-YYYYmmdd-HHMMSS-xxxx``: sortable by time, unique enough for one runs root."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def seeds_from(first: int, count: int) -> list[int]:
    """``count`` repeats: ``first, first + 1, …`` (different init, split, shuffle and augmentation)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise ConfigError(f"seeds must be a whole number from 1 to 100; got {count!r}.")
    return list(range(first, first + count))


def run_id_for(study_id: str, index: int, variant: str, seed: int) -> str:
    """A run id that says which study, variant and seed it belongs to, within the store's limits."""
    prefix, suffix = f"{study_id}-{index:02d}-", f"-s{seed}"
    slug = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9_.]+", "-", variant)).strip("-.")
    slug = slug[: MAX_RUN_ID - len(prefix) - len(suffix)]
    run_id = f"{prefix}{slug}{suffix}" if slug else f"{prefix.rstrip('-')}{suffix}"
    if not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise ConfigError(f"Study id {study_id!r} is too long or has characters a run id cannot hold.")
    return run_id
