"""How long a run trains: a fixed number of steps, or as many as fit a wall-time budget.

A ``Plan`` counts optimiser steps, so a budget can end the last epoch part-way and still use its
whole time. It is frozen: the budget fitter hands out a new one, and the learning-rate schedule
and lookahead read whichever plan the step runs under.

A budget is measured from the launch of the run (process start, data load and model build
included; time spent queued behind another run excluded), because that is the wall time the user
waits. The first fit comes after a few timed steps; it is refitted as the run goes (after 16, 32,
64, ... steps, then once an epoch, each time from the steps since the last fit), so a slow start
(kernel selection, caches filling, a burst of other work) does not leave half the budget unused, and
a machine that slows down late in the run does not carry it past its deadline (with doubling alone
the last fit could come half a run before the end); and a run with less than one validation's time
left (also before any fit, after a slow start-up on a busy machine) stops at the step it is on, so
its last validation ends by the deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The first fit times steps 1..CALIBRATION_STEPS (step 0 warms up allocator and kernels), fewer
# when an epoch is shorter.
CALIBRATION_STEPS = 8
# Until an epoch's validation has been timed, a validation batch is costed at a third of a
# training step (forward only).
EVAL_STEP_SHARE = 1 / 3
# A budget never plans more epochs than this (the most a config may ask for): the one stop short of
# the deadline besides a recipe that opts out of stretching (budget_stretch False; docs/budget.md).
MAX_BUDGET_EPOCHS = 10_000


@dataclass(frozen=True)
class Plan:
    """The run's length in optimiser steps, in epochs of ``steps_per_epoch`` (the last may be short)."""

    steps_per_epoch: int
    steps: int

    @property
    def epochs(self) -> int:
        return math.ceil(self.steps / self.steps_per_epoch)

    def epoch_steps(self, epoch: int) -> int:
        """Steps in epoch ``epoch`` (0-based): all of them, or what the plan leaves of the last."""
        return max(0, min(self.steps_per_epoch, self.steps - epoch * self.steps_per_epoch))

    def epoch_fraction(self, epoch: int) -> float:
        """How much of a whole epoch epoch ``epoch`` trains (1.0 unless a budget cut it short)."""
        return self.epoch_steps(epoch) / self.steps_per_epoch


def fit_steps(
    *,
    remaining_s: float,
    step_s: float,
    validation_s: float,
    steps_done: int,
    steps_per_epoch: int,
    max_steps: int,
) -> int:
    """Total steps that end the run within ``remaining_s`` more seconds.

    Each further step costs ``step_s``; every epoch ends with a validation of ``validation_s``,
    spread over its steps here, plus the final one. Never fewer steps than are done, never more
    than ``max_steps``.
    """
    per_step = step_s + validation_s / steps_per_epoch
    more = int((remaining_s - validation_s) / per_step) if per_step > 0 else max_steps
    return max(steps_done, min(max_steps, steps_done + max(0, more)))


class BudgetFitter:
    """Times the run's training steps and validations and refits its ``Plan`` to the budget."""

    def __init__(
        self,
        budget_minutes: float,
        clock_start: float,
        max_steps: int,
        val_batches: float,
        on_event: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ):
        self.deadline = clock_start + budget_minutes * 60
        self.budget_minutes = budget_minutes
        self.max_steps = max_steps
        self.val_batches = val_batches
        self.on_event = on_event
        self.clock = clock
        self.next_fit = CALIBRATION_STEPS
        self.window_start: float | None = None  # when the steps of the current window began
        self.window_steps = 0
        self.window_other_s = 0.0  # validation time inside the window, not a training step's
        self.validation_s: float | None = None
        self.fitted = False

    def validated(self, seconds: float) -> None:
        """An epoch's validation took ``seconds``: cost the remaining ones at that, not a guess."""
        self.validation_s = seconds
        if self.window_start is not None:
            self.window_other_s += seconds

    def after_step(self, steps_done: int, plan: Plan) -> Plan:
        """Called after every optimiser step; returns the plan the next step runs under."""
        now = self.clock()
        if self.window_start is None:  # the first step warmed up; time from here on
            self.window_start = now
            # fit within the first epoch, so even its checkpoint holds the fitted plan a resume keeps
            self.next_fit = max(2, min(CALIBRATION_STEPS, plan.steps_per_epoch))
            return plan
        self.window_steps += 1
        step_s = (now - self.window_start - self.window_other_s) / self.window_steps
        validation_s = self.validation_s if self.validation_s is not None else step_s * self.val_batches * EVAL_STEP_SHARE
        # out of time before a fit said so: stop here, early enough for the last validation to end by the deadline
        if now + validation_s >= self.deadline and steps_done < plan.steps:
            return self._announce(Plan(plan.steps_per_epoch, steps_done), step_s, validation_s)
        if steps_done < self.next_fit:
            return plan
        steps = fit_steps(
            remaining_s=self.deadline - now,
            step_s=step_s,
            validation_s=validation_s,
            steps_done=steps_done,
            steps_per_epoch=plan.steps_per_epoch,
            max_steps=self.max_steps,
        )
        self.window_start, self.window_steps, self.window_other_s = now, 0, 0.0
        self.next_fit = steps_done + max(CALIBRATION_STEPS, min(steps_done, plan.steps_per_epoch))
        if self.fitted and steps == plan.steps:
            return plan
        return self._announce(Plan(plan.steps_per_epoch, steps), step_s, validation_s)

    def _announce(self, fitted: Plan, step_s: float, validation_s: float) -> Plan:
        self.fitted = True
        self.on_event(
            {
                "type": "budget",
                "time": time.time(),
                "budget_minutes": self.budget_minutes,
                "seconds_per_epoch_estimate": step_s * fitted.steps_per_epoch + validation_s,
                "epochs": fitted.epochs,
                "steps": fitted.steps,
            }
        )
        return fitted
