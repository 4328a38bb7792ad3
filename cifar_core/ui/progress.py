"""Planned and finished epochs of a run, read the same way on every page (contract C1, h-engine).

Until ``Run.progress()`` lands on main this reads the run's events the way C1 specifies (the
latest budget event's epochs, else the config's); after rebasing, only ``run.progress()`` stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cifar_core.runs import Run


@dataclass(frozen=True)
class _Progress:
    epochs_done: int
    epochs_planned: int
    epoch_steps: int


def run_progress(run: Run, events: list[dict[str, Any]] | None = None) -> Any:
    """``run.progress()`` (C1) where it exists, else the same numbers from ``events``."""
    if hasattr(run, "progress"):
        return run.progress()
    events = run.events() if events is None else events
    budget = next((event for event in reversed(events) if event["type"] == "budget"), None)
    steps = [event for event in events if event["type"] == "step"]
    last = steps[-1] if steps else {}
    return _Progress(
        epochs_done=sum(event["type"] == "epoch" for event in events),
        epochs_planned=budget["epochs"] if budget else run.config().epochs,
        epoch_steps=last.get("epoch_steps", last.get("steps_per_epoch", 1)),
    )
