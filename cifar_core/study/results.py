"""From run folders to the study's tables: one row per run, then mean ± std per variant.

Numbers come only from the runs' ``metrics.jsonl`` and ``status.json``, so the tables can be
rebuilt at any time by anyone (the CLI after each run, the app on every refresh) and a partly
finished study shows exactly what has finished. Only finished runs enter the means: a run that is
still training, or was cancelled, would pull a variant towards its early epochs.

The gap is final train accuracy minus final validation accuracy (and validation minus train
loss). Train accuracy is measured on the augmented batches the model trained on, so stronger
augmentation lowers it and narrows the gap partly by construction; read the gap together with
validation accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from cifar_core.classes import NUM_CLASSES
from cifar_core.runs import Run, RunStore
from cifar_core.runs.atomic import write_atomic
from cifar_core.runs.health import chance_warning
from cifar_core.study.definition import PlannedRun, Study
from cifar_core.study.folder import StudyFolder
from cifar_core.study.stats import compare_variants

METRICS = (
    "final_val_acc",
    "best_val_acc",
    "final_val_loss",
    "best_val_loss",
    "final_train_acc",
    "final_train_loss",
    "acc_gap",
    "loss_gap",
    "epochs_to_best",
    "wall_s",
)
# What the display table shows, in order: metric -> heading.
DISPLAY = {
    "final_val_acc": "val acc (final)",
    "best_val_acc": "val acc (best)",
    "final_val_loss": "val loss (final)",
    "acc_gap": "acc gap (train-val)",
    "loss_gap": "loss gap (val-train)",
    "epochs_to_best": "epochs to best",
    "wall_s": "wall s",
}
RUN_COLUMNS = ("variant", "seed", "run_id", "state", "epochs_done", *METRICS, "chance_warning")
NOT_STARTED = "waiting"


def epoch_events(run: Run) -> list[dict[str, Any]]:
    """Epoch events in order, a resumed run's repeated epochs keeping their latest values."""
    by_epoch = {event["epoch"]: event for event in run.events("epoch")}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def run_row(planned: PlannedRun, store: RunStore) -> dict[str, Any]:
    """The study's numbers for one planned run (state ``waiting`` and no numbers before it exists)."""
    row: dict[str, Any] = {"variant": planned.variant, "seed": planned.seed, "run_id": planned.run_id}
    row.update(dict.fromkeys(METRICS, math.nan), state=NOT_STARTED, epochs_done=0, chance_warning=None)
    run = store.find(planned.run_id)
    if run is None:
        return row
    status = run.status()
    epochs = [event for event in epoch_events(run) if event.get("val_acc") is not None]
    row.update(state=status["state"], epochs_done=len(epochs))
    if status.get("started") and status.get("ended"):
        row["wall_s"] = status["ended"] - status["started"]
    if not epochs:
        return row
    last = epochs[-1]
    best = max(epochs, key=lambda event: event["val_acc"])  # first epoch reaching the best wins
    row.update(
        final_val_acc=last["val_acc"],
        best_val_acc=best["val_acc"],
        final_val_loss=last["val_loss"],
        best_val_loss=min(event["val_loss"] for event in epochs),
        final_train_acc=last["train_acc"],
        final_train_loss=last["train_loss"],
        acc_gap=last["train_acc"] - last["val_acc"],
        loss_gap=last["val_loss"] - last["train_loss"],
        epochs_to_best=best["epoch"],
        chance_warning=chance_warning(epochs, NUM_CLASSES, finished=status["state"] == "finished"),
    )
    return row


def run_table(study: Study) -> pd.DataFrame:
    """One row per planned run, in the study's order."""
    store = RunStore(study.runs_root)
    return pd.DataFrame([run_row(planned, store) for planned in study.runs], columns=list(RUN_COLUMNS))


def variant_table(study: Study, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: finished/planned counts, the variant's changed values, mean and std.

    The std is the sample standard deviation over seeds (empty with one finished seed: a single
    run says nothing about how much the next seed would differ). The last columns hold the 95%
    t-interval of the validation accuracy and the paired comparison with the study's reference
    (``stats.compare_variants``): difference, its interval's half-width, paired seeds and verdict.
    """
    comparisons = {c.variant: c for c in compare_variants(runs, study.reference_variant, variants=[v.name for v in study.variants])}
    rows = []
    for variant in study.variants:
        mine = runs[runs["variant"] == variant.name]
        done = mine[mine["state"] == "finished"]
        row: dict[str, Any] = {"variant": variant.name, "runs_finished": len(done), "runs_planned": len(mine)}
        row.update({field: _cell(variant.changes.get(field)) for field in _axis_columns(study)})
        for metric in METRICS:
            values = done[metric].dropna().astype(float)
            row[f"{metric}_mean"] = values.mean() if len(values) else math.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
        comparison = comparisons[variant.name]
        difference = comparison.difference
        row.update(
            final_val_acc_ci95=comparison.value.half_width,
            reference=comparison.reference,
            val_acc_diff_mean=difference.mean if difference else 0.0,
            val_acc_diff_ci95=difference.half_width if difference else math.nan,
            paired_seeds=difference.n if difference else comparison.value.n,
            verdict=comparison.verdict,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def refresh_results(folder: StudyFolder) -> pd.DataFrame:
    """Rebuild both tables from the run folders, write them atomically, return the per-variant one."""
    study = folder.study()
    runs = run_table(study)
    variants = variant_table(study, runs)
    _write_csv(folder.run_results_path, runs)
    _write_csv(folder.results_path, variants)
    return variants


def _axis_columns(study: Study) -> list[str]:
    return ["augment_ops"] if study.kind == "ablation" else list(study.axes)


def _cell(value: Any) -> Any:
    """Lists (an ablation's ops) as one readable cell: ``rotation+cutmix``; none as ``-``."""
    if isinstance(value, list):
        return "+".join(value) or "-"
    return value


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    text = frame.to_csv(index=False).encode()
    write_atomic(path, lambda handle: handle.write(text))


def mean_std_text(frame: pd.DataFrame, metric: str, digits: int = 3) -> pd.Series:
    """``mean ± std`` strings for display (just the mean when there is no std yet, '-' when empty)."""

    def show(mean: float, std: float) -> str:
        if math.isnan(mean):
            return "-"
        return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"

    return pd.Series([show(m, s) for m, s in zip(frame[f"{metric}_mean"], frame[f"{metric}_std"])], index=frame.index)


def display_table(variants: pd.DataFrame) -> pd.DataFrame:
    """The per-variant table as text cells (``mean ± std``), for the CLI, the app and reports."""
    table = pd.DataFrame({"variant": variants["variant"]})
    table["runs"] = [f"{done}/{planned}" for done, planned in zip(variants["runs_finished"], variants["runs_planned"])]
    for metric, heading in DISPLAY.items():
        digits = 0 if metric == "wall_s" else 1 if metric == "epochs_to_best" else 3
        table[heading] = mean_std_text(variants, metric, digits)
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-markdown table of text cells (pandas' own needs the optional ``tabulate``)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)
