"""Published studies: a finished study's small results, shipped in ``docs/studies/<name>/``.

A study's runs are folders with weights (megabytes each); what a reader needs is a few kilobytes:
``results.csv`` (one row per finished run: variant, seed, final and best accuracies, losses, the
gap, a chance-level warning), ``curves.json`` (per run, the epoch-by-epoch train and validation
numbers), ``study.json`` (the definition: base config, variants, seeds, reference, environment)
and ``command.txt`` (the command that made it). The Experiments page opens these instantly, beside
the user's own studies, and reads them with the same statistics. An installed package reads the copy
its wheel carries (``PUBLISHED_ROOT``, from ``cifar_core.paths``).
"""

from __future__ import annotations

import json
import math
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from cifar_core.errors import RunError
from cifar_core.paths import default_roots
from cifar_core.runs import RunStore
from cifar_core.runs.atomic import write_atomic, write_json_atomic
from cifar_core.study.catalog import NAMED_STUDIES
from cifar_core.study.definition import Study
from cifar_core.study.lesson import ROTATED, rotated_scores, takeaway
from cifar_core.study.results import epoch_events, run_table
from cifar_core.study.stats import compare_variants

RESULT_COLUMNS = (
    "variant",
    "seed",
    "state",
    "epochs_done",
    "final_train_acc",
    "final_val_acc",
    "best_val_acc",
    "final_train_loss",
    "final_val_loss",
    "acc_gap",
    "loss_gap",
    "epochs_to_best",
    "wall_s",
    "chance_warning",
)
CURVE_FIELDS = ("epoch", "train_acc", "val_acc", "train_loss", "val_loss")
PUBLISHED_ROOT = default_roots().studies
MAX_FILE_BYTES = 5_000_000  # the shipped files are kilobytes; anything larger is not ours
GRID_METRIC = "val acc (95% CI)"  # the grid heatmap's cells: mean ± the t-interval's half-width, as the tables


@dataclass(frozen=True)
class PublishedStudy:
    """A published study read back: its definition, one row per finished run, and the curves."""

    dir: Path
    definition: dict[str, Any]
    runs: pd.DataFrame
    curves: dict[str, list[list[list[float]]]]  # variant -> per seed: rows of CURVE_FIELDS
    command: str

    @property
    def name(self) -> str:
        return self.definition.get("name") or self.dir.name

    @property
    def reference(self) -> str:
        return Study.from_dict({**self.definition, "runs_root": "."}).reference_variant

    @property
    def variants(self) -> list[str]:
        return [variant["name"] for variant in self.definition["variants"]]

    @property
    def size(self) -> str:
        """How big this copy ran, read from its config: ``50,000 images, 10 epochs, 5 seeds``."""
        base = self.definition.get("base", {})
        seeds = len(self.definition.get("seeds", [])) or self.runs["seed"].nunique()
        images = f"{base['limit']:,} images" if base.get("limit") else "all images"
        return f"{images}, {base.get('epochs', '?')} epochs, {seeds} seed{'s' if seeds != 1 else ''}"

    @property
    def split(self) -> str:
        """The train / validation sizes, e.g. ``40,000 train / 10,000 validation`` ("" when not limited)."""
        base = self.definition.get("base", {})
        limit = base.get("limit")
        if not limit:
            return ""
        validation = math.ceil(limit * float(base.get("val_fraction") or 0.0))  # sklearn's stratified split rounds it up
        return f"{limit - validation:,} train / {validation:,} validation"

    @property
    def device(self) -> str:
        """What it trained on: ``CPU``, or the card's name (recorded in study.json, else in the command's note)."""
        environment = self.definition.get("environment", {})
        if environment.get("device_name"):
            return str(environment["device_name"])
        device = str(self.definition.get("base", {}).get("device", "?"))
        if device == "cpu":
            return "CPU"
        found = re.search(r"\bon (?:one |an? |\d+ x )?((?:NVIDIA|AMD|Tesla|Intel)\b[^,;()\n]*)", self.command)
        return found.group(1).strip() if found else f"device {device}"

    @property
    def label(self) -> str:
        """The picker's entry: the folder (unique) with its size and device, since two folders may hold one named study."""
        return f"{self.dir.name} · {self.size} · {self.device}"

    def curve_events(self) -> dict[str, list[list[dict[str, Any]]]]:
        """Curves as epoch events (what ``study_plots`` draws for live studies too)."""
        return {
            variant: [
                [{"type": "epoch", **dict(zip(CURVE_FIELDS, row))} for row in seed_rows] for seed_rows in self.curves.get(variant, [])
            ]
            for variant in self.variants  # the study's order (the JSON file's keys may be sorted)
        }


def grid_cells(definition: dict[str, Any], runs: pd.DataFrame) -> tuple[pd.DataFrame, str, str] | None:
    """A two-axis grid's cells for ``figures.studies.grid_heatmap_figure`` (metric ``GRID_METRIC``).

    One row per variant: its two axis values and its final validation accuracy over seeds, the mean
    and the 95% t-interval's half-width (in the ``_std`` column the figure writes after "±"). None
    for a study that is not a grid over exactly two settings.
    """
    axes = list(definition.get("axes") or {})
    if definition.get("kind") != "grid" or len(axes) != 2:
        return None
    study = Study.from_dict({**definition, "runs_root": "."})
    names = [variant.name for variant in study.variants]
    comparisons = compare_variants(runs, study.reference_variant, variants=names)
    rows = [
        {
            "variant": variant.name,
            **{axis: variant.changes.get(axis) for axis in axes},
            f"{GRID_METRIC}_mean": comparison.value.mean,
            f"{GRID_METRIC}_std": comparison.value.half_width,
        }
        for variant, comparison in zip(study.variants, comparisons)
    ]
    return pd.DataFrame(rows), axes[0], axes[1]


def export_study(study: Study, out: Path | str, command: str) -> Path:
    """Write the study's finished runs to ``out`` (rewritten as more finish; no weights)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = run_table(study)
    finished = table[table["state"] == "finished"]
    store = RunStore(study.runs_root)
    curves: dict[str, list[list[list[float]]]] = {variant.name: [] for variant in study.variants}
    for planned in study.runs:
        if planned.run_id in set(finished["run_id"]):
            events = epoch_events(store.get(planned.run_id))
            curves[planned.variant].append([[_round(event.get(name)) for name in CURVE_FIELDS] for event in events])
    definition = study.to_dict()
    definition.pop("runs_root")  # a path on the machine that made it
    definition["environment"] = {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_threads": torch.get_num_threads(),
    }
    if study.base.device != "cpu" and torch.cuda.is_available():  # the card's name, for the picker's label
        definition["environment"]["device_name"] = torch.cuda.get_device_name(study.base.device if ":" in study.base.device else None)
    definition["runs_finished"] = len(finished)
    text = finished[list(RESULT_COLUMNS)].to_csv(index=False, float_format="%.6g").encode()
    write_atomic(out / "results.csv", lambda handle: handle.write(text))
    write_json_atomic(out / "study.json", definition)
    write_json_atomic(out / "curves.json", curves)
    write_atomic(out / "command.txt", lambda handle: handle.write((command.strip() + "\n").encode()))
    return out


def add_rotated_scores(study: Study, out: Path | str) -> Path:
    """Add each finished run's accuracy on rotated validation images (``rot_val_acc``) to ``out/results.csv``."""
    out = Path(out)
    table = run_table(study)
    scores = rotated_scores(study, table)
    runs = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    ids = {(planned.variant, planned.seed): planned.run_id for planned in study.runs}
    runs[ROTATED] = [scores.get(ids.get((variant, seed)), math.nan) for variant, seed in zip(runs["variant"].astype(str), runs["seed"])]
    text = runs.to_csv(index=False, float_format="%.6g").encode()
    write_atomic(out / "results.csv", lambda handle: handle.write(text))
    return out


LESSON = "lesson"


def lesson_takeaway(root: Path | str = PUBLISHED_ROOT) -> str:
    """The published lesson study's answer (``lesson.takeaway``), for every page that states what augmentation does."""
    directory = Path(root) / LESSON
    if not (directory / "study.json").is_file():
        return f"The lesson study is not published in this copy yet: `python scripts/publish_study.py {LESSON} --data PATH` makes it."
    try:
        study = load_published(directory)
    except RunError as exc:
        return str(exc)
    return takeaway(study.runs, study.reference, study.variants)


def load_published(directory: Path | str) -> PublishedStudy:
    """Read one published study; a damaged or foreign folder gets one sentence naming it."""
    directory = Path(directory)
    try:
        definition = json.loads(_read(directory / "study.json"))
        curves = json.loads(_read(directory / "curves.json"))
        runs = pd.read_csv(directory / "results.csv", keep_default_na=False, na_values=[""])
        command = _read(directory / "command.txt").strip()
        Study.from_dict({**definition, "runs_root": "."})  # checks the definition's shape
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"The published study in {directory} cannot be read ({exc}).") from None
    missing = [column for column in ("variant", "seed", "final_train_acc", "final_val_acc") if column not in runs.columns]
    if missing:
        raise RunError(f"The published study in {directory} has no {', '.join(missing)} column in results.csv.")
    runs["variant"] = runs["variant"].astype(str)
    if "chance_warning" not in runs.columns:
        runs["chance_warning"] = None
    runs["chance_warning"] = runs["chance_warning"].astype(object).where(runs["chance_warning"].notna(), None)
    if "state" not in runs.columns:
        runs["state"] = "finished"
    return PublishedStudy(directory, definition, runs, curves, command)


def list_published(root: Path | str = PUBLISHED_ROOT) -> list[PublishedStudy]:
    """Every readable published study under ``root`` (the project's ``docs/studies``): the named
    studies in the catalogue's order (the lesson first, the one a class opens on), then any other by folder."""

    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.is_symlink() and (child / "study.json").is_file():
            try:
                found.append(load_published(child))
            except RunError:
                continue  # a half-copied folder must not hide the others; the page names only good ones
    order = list(NAMED_STUDIES)
    return sorted(found, key=lambda study: order.index(study.name) if study.name in order else len(order))


def grid_spread(frame: pd.DataFrame) -> str:
    """How far apart the heatmap's colours are, in points: a full colour scale over a spread smaller
    than the cells' intervals would otherwise look like a finding."""
    means = frame[f"{GRID_METRIC}_mean"].dropna()
    if means.empty:
        return "No cell has a finished run yet."
    spread, widest = 100 * (means.max() - means.min()), 100 * frame[f"{GRID_METRIC}_std"].max()
    sentence = f"The colours stretch over {spread:.1f} points from the lowest cell to the highest"
    if widest == widest and widest >= spread / 2:  # not NaN, and as wide as half the spread
        sentence += f", no more than the cells' own 95% intervals (up to ± {widest:.1f})"
    return sentence + ": the paired comparisons above say which cells differ from the reference."


def _read(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        raise OSError(f"{path.name} is missing or not a regular file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise OSError(f"{path.name} is larger than a published study's files can be")
    return path.read_text()


def _round(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 5)
