"""Before a resume, make metrics.jsonl and best.pt agree with last.pt.

An epoch is written in three steps: ``last.pt``, ``best.pt`` (when it improved), then its line in
``metrics.jsonl``. A crash (kill -9, power loss, a full disk) between them leaves a checkpoint
whose epoch has no metrics line, a stale ``best.pt``, or metrics of steps that will be redone.
``last.pt`` is the source of truth: its history holds every finished epoch's whole record, so a
missing line is re-written exactly, lines of epochs after it are dropped (the resume redoes them,
and readers must see each epoch once), and ``best.pt`` is re-saved when the checkpoint's own epoch
is the best one and ``best.pt`` does not hold it. Temp files of interrupted atomic writes go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cifar_core.errors import CheckpointError
from cifar_core.runs.atomic import write_atomic
from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint
from cifar_core.runs.store import Run

# Files only the training worker writes (atomically, via a ".NAME.*.tmp" temp file beside them).
WORKER_FILES = ("last.pt", "best.pt", "metrics.jsonl")


def reconcile(run: Run, state: dict[str, Any] | None) -> None:
    """Bring ``run``'s metrics and best checkpoint in line with ``state`` (its loaded last.pt, or
    None when there is none and training restarts from the first epoch)."""
    _remove_interrupted_writes(run.dir)
    epochs_done = state["epoch"] if state else 0
    history = list(state["history"]) if state else []
    _reconcile_metrics(run.metrics_path, epochs_done, history)
    if state is not None and _best_epoch(history) == epochs_done:
        _ensure_best(run, state)


def _remove_interrupted_writes(directory: Path) -> None:
    for name in WORKER_FILES:
        for leftover in directory.glob(f".{name}.*.tmp"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink(missing_ok=True)


def _reconcile_metrics(path: Path, epochs_done: int, history: list[dict[str, Any]]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = text.split("\n")
    complete, partial = lines[:-1], lines[-1]  # a last line without its newline was cut mid-write
    kept, present = [], set()
    for line in complete:
        event = _parse(line)
        if event is not None and event.get("type") in ("epoch", "step") and _epoch(event) > epochs_done:
            continue  # trained after the checkpoint: the resume redoes it
        if event is not None and event.get("type") == "epoch":
            present.add(_epoch(event))
        kept.append(line)
    missing = [record for record in history if _epoch(record) not in present]
    if not missing and not partial and len(kept) == len(complete):
        return
    kept += [json.dumps(record) for record in missing]
    body = "".join(line + "\n" for line in kept).encode("utf-8")
    write_atomic(path, lambda handle: handle.write(body))


def _parse(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _epoch(event: dict[str, Any]) -> int:
    epoch = event.get("epoch")
    return epoch if isinstance(epoch, int) else 0


def _best_epoch(history: list[dict[str, Any]]) -> int | None:
    """The epoch the engine saved as best: the first to reach the top validation accuracy, or
    the last one when there is no validation (then every epoch is saved as best)."""
    scored = [(record["val_acc"], -_epoch(record)) for record in history if isinstance(record.get("val_acc"), (int, float))]
    if not scored:
        return _epoch(history[-1]) if history else None
    return -max(scored)[1]


def _ensure_best(run: Run, state: dict[str, Any]) -> None:
    path = run.checkpoint_path("best")
    try:
        if load_checkpoint(path)["epoch"] == state["epoch"]:
            return
    except CheckpointError:  # missing or half-written: the checkpoint's state replaces it
        pass
    save_checkpoint(path, state)
