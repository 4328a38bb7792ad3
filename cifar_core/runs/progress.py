"""How far a run is, from its events alone: one answer for the CLI bar, the Train page, the Runs
table and the run summary.

Planned epochs come from the latest plan the run announced: a ``budget`` event (a time budget
fits the steps after timing the first ones, and may refit them), else the ``start`` event's own
``planned_steps`` (a resumed run restates its checkpoint's plan), else ``config.epochs``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cifar_core.train.config import TrainConfig


@dataclass(frozen=True)
class RunProgress:
    epochs_done: int  # finished epochs (epoch events), each counted once
    epochs_planned: int
    steps_done: int
    steps_planned: int
    epoch_steps: int  # steps in the current (or, once finished, the last) epoch; a budget may cut it short

    @property
    def fraction(self) -> float:
        """Share of the planned steps done, 0..1."""
        return min(1.0, self.steps_done / self.steps_planned) if self.steps_planned else 0.0


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def progress_from_events(events: Iterable[dict[str, Any]], config: TrainConfig | None) -> RunProgress:
    """Fold a run's events (in file order) into its progress; damaged events are skipped."""
    cap = config.epochs if config is not None else 0
    steps_per_epoch = planned = None
    steps_done = 0
    done: set[int] = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "start" and _whole(event.get("steps_per_epoch")):
            steps_per_epoch = event["steps_per_epoch"]
            start_epoch = _whole(event.get("start_epoch")) or 0
            done = {epoch for epoch in done if epoch <= start_epoch}  # later ones are redone after a resume
            steps_done = start_epoch * steps_per_epoch
            if _whole(event.get("planned_steps")):
                planned = event["planned_steps"]
        elif kind == "budget" and _whole(event.get("steps")):
            planned = event["steps"]
        elif kind == "step" and _whole(event.get("global_step")) is not None:
            steps_done = event["global_step"]
        elif kind == "epoch" and _whole(event.get("epoch")):
            done.add(event["epoch"])
            if steps_per_epoch:
                steps_done = max(steps_done, min(event["epoch"] * steps_per_epoch, planned or math.inf))
    return _progress(len(done), steps_done, steps_per_epoch, planned, cap)


def _progress(epochs_done: int, steps_done: int, steps_per_epoch: int | None, planned: int | None, cap: int) -> RunProgress:
    """The progress of a run that has finished ``epochs_done`` epochs and ``steps_done`` steps (``cap``: the config's epochs)."""
    if steps_per_epoch is None:  # not started: only the config knows
        return RunProgress(epochs_done, max(cap, epochs_done), 0, 0, 0)
    if planned is None:
        planned = cap * steps_per_epoch
    epochs_planned = math.ceil(planned / steps_per_epoch)
    current = min(epochs_done, max(epochs_planned - 1, 0))
    epoch_steps = max(0, min(steps_per_epoch, planned - current * steps_per_epoch))
    return RunProgress(epochs_done, epochs_planned, min(steps_done, planned), planned, epoch_steps)
