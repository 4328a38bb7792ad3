"""How far a run is, from its events alone: one answer for the CLI bar, the Train page, the Runs
table and the run summary.

Planned epochs come from the latest plan the run announced: a ``budget`` event (a time budget
fits the steps after timing the first ones, and may refit them), else the ``start`` event's own
``planned_steps`` (a resumed run restates its checkpoint's plan), else ``config.epochs``.

The planned epochs shown move with a refit only when it moves the plan by a whole epoch of steps
or more (``moves_the_plan_shown``): a refit that trims or adds a few steps would otherwise flip
the count between two values as the speed wobbles. They are never fewer than the epoch being
trained, and once every planned step is done they are the epochs the run trained.
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


def moves_the_plan_shown(shown_steps: int | None, steps: int, steps_per_epoch: int | None) -> bool:
    """Whether a refit to ``steps`` changes the planned epochs shown, last set at ``shown_steps``."""
    return shown_steps is None or not steps_per_epoch or abs(steps - shown_steps) >= steps_per_epoch


def plan_changes(events: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(before, after)`` budget events for every refit that changed the planned epochs shown, in order."""
    steps_per_epoch, shown, changes = None, None, []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("type") == "start" and _whole(event.get("steps_per_epoch")):
            steps_per_epoch = event["steps_per_epoch"]
        elif event.get("type") == "budget" and _whole(event.get("steps")):
            if moves_the_plan_shown(None if shown is None else shown["steps"], event["steps"], steps_per_epoch):
                if shown is not None:
                    changes.append((shown, event))
                shown = event
    return changes


def progress_from_events(events: Iterable[dict[str, Any]], config: TrainConfig | None) -> RunProgress:
    """Fold a run's events (in file order) into its progress; damaged events are skipped."""
    cap = config.epochs if config is not None else 0
    steps_per_epoch = planned = shown = None
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
                planned = shown = event["planned_steps"]
        elif kind == "budget" and _whole(event.get("steps")):
            planned = event["steps"]
            shown = planned if moves_the_plan_shown(shown, planned, steps_per_epoch) else shown
        elif kind == "step" and _whole(event.get("global_step")) is not None:
            steps_done = event["global_step"]
        elif kind == "epoch" and _whole(event.get("epoch")):
            done.add(event["epoch"])
            if steps_per_epoch:
                steps_done = max(steps_done, min(event["epoch"] * steps_per_epoch, planned or math.inf))
    return _progress(len(done), steps_done, steps_per_epoch, planned, cap, shown)


def _progress(
    epochs_done: int, steps_done: int, steps_per_epoch: int | None, planned: int | None, cap: int, shown: int | None
) -> RunProgress:
    """The progress of a run that has finished ``epochs_done`` epochs and ``steps_done`` steps (``cap``: the config's
    epochs; ``shown``: the planned steps the epochs shown were last set from)."""
    if steps_per_epoch is None:  # not started: only the config knows
        return RunProgress(epochs_done, max(cap, epochs_done), 0, 0, 0)
    if planned is None:
        planned = cap * steps_per_epoch
    epochs_planned = math.ceil(planned / steps_per_epoch)
    current = min(epochs_done, max(epochs_planned - 1, 0))
    epoch_steps = max(0, min(steps_per_epoch, planned - current * steps_per_epoch))
    if shown is not None and steps_done < planned:
        epochs_planned = max(math.ceil(shown / steps_per_epoch), epochs_done + 1)
    return RunProgress(epochs_done, epochs_planned, min(steps_done, planned), planned, epoch_steps)
