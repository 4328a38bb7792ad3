"""What a study varies: an ablation over augmentation ops, or a grid over config fields.

A variant is a name plus the ``TrainConfig`` fields it changes from the study's base config, so
every variant shares everything else (seed and split included) and a difference between two
variants can only come from the fields that differ.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cifar_core.augment import MIX_OPS, OP_NAMES
from cifar_core.errors import ConfigError
from cifar_core.train import TrainConfig

# Fields a grid cannot vary: lists and mappings do not fit 'field=v1,v2', seeds are the study's
# repeats (--seeds), not a hyper-parameter, and the split stays fixed.
NOT_IN_GRID = {
    "augment_ops": "vary augmentations with an ablation instead",
    "augment_params": "it is a mapping, not a single value",
    "model_options": "it is a mapping, not a single value",
    "seed": "repeat a study over seeds with the seeds setting instead",
    "split_seed": "every variant of a study is scored on the same validation images",
}
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
NONE_WORDS = ("none", "null")


@dataclass(frozen=True)
class Variant:
    """One arm of a study: a name for tables and legends, and the fields it changes."""

    name: str
    changes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "changes": dict(self.changes)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Variant:
        return cls(str(values["name"]), dict(values["changes"]))


def ablation_variants(base: TrainConfig, ops: Sequence[str]) -> list[Variant]:
    """none, each op alone, all but one (for each op), all — without repeating an op set.

    The ablated ops replace the base's ``augment_ops``; probabilities stay the base's ``aug_p``
    and ``mix_p`` and per-op parameters carry over, so "rotation" here is exactly the rotation the
    full set applies. With two ops "all but one" equals "the other alone", so it is left out.
    """
    ops = [op.strip() for op in ops if op.strip()]
    if not ops:
        raise ConfigError("Name at least one augmentation to ablate, e.g. rotation,cutmix.")
    unknown = [op for op in ops if op not in OP_NAMES]
    if unknown:
        raise ConfigError(f"Unknown augmentation(s) {', '.join(unknown)} to ablate; choose from {', '.join(OP_NAMES)}.")
    repeated = sorted({op for op in ops if ops.count(op) > 1})
    if repeated:
        raise ConfigError(f"Augmentation(s) {', '.join(repeated)} named twice in the ablation.")
    never = [f"{op} ({'mix_p' if op in MIX_OPS else 'aug_p'} is 0)" for op in ops if (base.mix_p if op in MIX_OPS else base.aug_p) == 0]
    if never:
        raise ConfigError(f"The ablation would compare identical runs: {', '.join(never)} never applies; raise its probability.")
    candidates = [("none", [])]
    candidates += [(op, [op]) for op in ops]
    candidates += [(f"all but {op}", [other for other in ops if other != op]) for op in ops]
    candidates.append(("all", list(ops)))
    variants, seen = [], set()
    for name, chosen in candidates:
        if frozenset(chosen) in seen:
            continue
        seen.add(frozenset(chosen))
        params = {op: value for op, value in base.augment_params.items() if op in chosen}
        variants.append(Variant(name, {"augment_ops": chosen, "augment_params": params}))
    for variant in variants:
        base.replace(**variant.changes)  # every variant must be a valid config
    return variants


def parse_grid(text: str, base: TrainConfig) -> dict[str, list[Any]]:
    """``'aug_p=0.03,0.06;mix_p=0.01,0.02'`` -> ``{"aug_p": [0.03, 0.06], "mix_p": [0.01, 0.02]}``.

    Values are typed by the ``TrainConfig`` field and each is checked against ``base`` on its own,
    so a bad value is reported by name before any run starts.
    """
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    hints = typing.get_type_hints(TrainConfig)
    axes: dict[str, list[Any]] = {}
    for part in (part.strip() for part in text.split(";")):
        if part:
            name, raw_values = _grid_field(part, fields, axes)
            axes[name] = _grid_values(name, raw_values, part, hints[name], base)
    if not axes:
        raise ConfigError("The grid is empty; write e.g. 'aug_p=0.03,0.06;mix_p=0.01,0.02'.")
    return axes


def _grid_field(part: str, fields: set[str], axes: dict[str, list[Any]]) -> tuple[str, str]:
    """``'name=values'`` split, with the name checked: a known field, one a grid may vary, not given twice."""
    if "=" not in part:
        raise ConfigError(f"Grid part {part!r} has no '='; write field=value1,value2 (parts separated by ';').")
    name, _, raw_values = (piece.strip() for piece in part.partition("="))
    if name not in fields:
        raise ConfigError(f"Unknown config field {name!r} in the grid; choose from {', '.join(sorted(fields - set(NOT_IN_GRID)))}.")
    if name in NOT_IN_GRID:
        raise ConfigError(f"{name} cannot be varied in a grid: {NOT_IN_GRID[name]}.")
    if name in axes:
        raise ConfigError(f"Field {name} appears twice in the grid; list all its values once: {name}=a,b,c.")
    return name, raw_values


def _grid_values(name: str, raw_values: str, part: str, hint: Any, base: TrainConfig) -> list[Any]:
    """One axis's comma-separated values, typed by the field and each checked against ``base`` on its own."""
    words = [word.strip() for word in raw_values.split(",")]
    if not raw_values.strip() or any(not word for word in words):
        raise ConfigError(f"Grid field {name} has an empty value in {part!r}; give values separated by commas.")
    values = [_typed(name, word, hint) for word in words]
    repeated = [word for word, value in zip(words, values) if values.count(value) > 1]
    if repeated:
        raise ConfigError(f"Grid field {name} repeats the value {repeated[0]}.")
    for value in values:
        try:
            base.replace(**{name: value})
        except ConfigError as exc:
            raise ConfigError(f"Grid value {name}={value!r} is invalid: {exc}") from None
    return values


def grid_variants(base: TrainConfig, axes: dict[str, list[Any]]) -> list[Variant]:
    """Every combination of the axes' values, first axis slowest; each checked as a whole config."""
    variants = []
    for combination in itertools.product(*axes.values()):
        changes = dict(zip(axes, combination))
        name = ", ".join(f"{field}={_show(value)}" for field, value in changes.items())
        try:
            base.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"Grid combination {name} is invalid: {exc}") from None
        variants.append(Variant(name, changes))
    return variants


def _typed(name: str, word: str, hint: Any) -> Any:
    """``word`` as the field's type: int, float, bool or str, or None for optional fields."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if type(None) in kinds and word.lower() in NONE_WORDS:
        return None
    kind = next(kind for kind in kinds if kind is not type(None))
    try:
        if kind is bool:
            if word.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError
            return word.lower() in TRUE_WORDS
        if kind is int:
            return int(word)
        if kind is float:
            return float(word)
        return word
    except ValueError:
        article = "an" if kind is int else "a"
        type_name = {int: "integer", float: "number", bool: "true/false"}.get(kind, kind.__name__)
        raise ConfigError(f"Grid value {name}={word!r} is not {article} {type_name}.") from None


def _show(value: Any) -> str:
    return "none" if value is None else str(value)
