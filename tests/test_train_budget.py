"""A budget run uses its budget: the epochs it trains follow the measured speed, not the recipe's count.

The speed is injected through ``train``'s one clock (each reading advances a fixed step time), so
these runs are deterministic and take a couple of seconds of real time however busy the machine is.
"""

from __future__ import annotations

import pytest

from cifar_core.data import load_synthetic
from cifar_core.train import train
from cifar_core.train.optim import lr_factor
from tests.support import tiny_config


class StepClock:
    """A machine where every clock reading costs ``step_s`` seconds: one reading per training step, two per validation."""

    def __init__(self, step_s: float, start: float = 1000.0):
        self.step_s, self.now, self.start = step_s, start, start

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic(n_per_class=40, seed=0, n_test_per_class=10)


def budget_run(synthetic, step_s: float, **overrides):
    clock = StepClock(step_s)
    events = []
    # 160 training images in batches of 64: 3 steps an epoch; the recipe's reference count is 2 epochs
    config = tiny_config(epochs=2, budget_minutes=0.1, schedule="onecycle", warmup_epochs=1.0, optimizer="sgd", lr=0.05, **overrides)
    result = train(config, synthetic, on_event=events.append, clock=clock, clock_start=clock.start)
    return result, events, clock


def test_a_budget_larger_than_the_recipes_reference_trains_more_epochs_and_uses_its_time(synthetic):
    # 0.2 s a step, 6 s budget: about 6 epochs with their validations, where the recipe says 2
    result, events, clock = budget_run(synthetic, step_s=0.2)
    steps = [e for e in events if e["type"] == "step"]
    plans = [e for e in events if e["type"] == "budget"]
    assert result.status == "finished" and result.epochs_done >= 4
    assert clock.now - clock.start >= 0.95 * 6.0  # trained for at least 95% of the budget from launch
    assert plans[-1]["epochs"] == result.epochs_done and steps[-1]["global_step"] == plans[-1]["steps"]
    assert steps[-1]["lr"] == pytest.approx(0.0, abs=1e-9)  # the onecycle decay was stretched to end with the run


def test_a_slow_machine_buys_fewer_epochs_from_the_same_budget(synthetic):
    fast, _, _ = budget_run(synthetic, step_s=0.2)
    slow, _, clock = budget_run(synthetic, step_s=1.0)
    assert slow.epochs_done < fast.epochs_done and slow.epochs_done <= 2
    assert clock.now - clock.start >= 0.95 * 6.0


def test_budget_stretch_off_keeps_the_recipes_epochs_as_a_cap(synthetic):
    result, _, clock = budget_run(synthetic, step_s=0.2, budget_stretch=False)
    assert result.epochs_done == 2 and clock.now - clock.start < 0.5 * 6.0


def test_the_warm_up_stretches_with_a_budget_that_buys_more_epochs():
    config = tiny_config(epochs=10, schedule="onecycle", warmup_epochs=1.0)
    # 10 steps an epoch; the reference plan (100 steps) warms up over 10 steps, a plan 3x as long over 30
    assert lr_factor(config, 9, 100, 10) == pytest.approx(1.0) and lr_factor(config, 9, 300, 10) == pytest.approx(10 / 30)
    assert lr_factor(config, 29, 300, 10) == pytest.approx(1.0)
    capped = tiny_config(epochs=10, schedule="onecycle", warmup_epochs=1.0, budget_stretch=False)
    assert lr_factor(capped, 9, 300, 10) == pytest.approx(1.0)  # switched off: the warm-up stays one epoch
