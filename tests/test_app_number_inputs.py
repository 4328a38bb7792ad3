"""Every number box of every page, typed a negative and a huge value: each holds a value the page can use.

A box with bounds (``min_value``/``max_value``) cannot hold a value outside them: Streamlit puts
the box's own default back, which ``state.persist_number`` sets to the value the box held, so
the page goes on as before. The Train page's boxes have no bounds of their own (the run's
config holds the ranges, ``TrainConfig.validate``): there a bad value is one sentence naming
that field and its range, Start is disabled, and no run folder is made. Nowhere a traceback.
"""

from __future__ import annotations

import pytest
from app_support import assert_ok, button, errors, open_app
from test_app_experiments import SMALL_TRAIN

from cifar_core.runs import RunStore
from cifar_core.study import Throughput

NEGATIVE_INT, HUGE_INT = -5, 10**12
NEGATIVE_FLOAT, HUGE_FLOAT = -5.0, 1e12


@pytest.fixture
def fixed_speed(monkeypatch):
    """A fixed training speed: each rerun would otherwise time the recipe's model for its estimate."""
    monkeypatch.setattr("cifar_core.ui.estimates.device_throughput", lambda store, config: Throughput(1000.0, 3000.0, "fixed"))


def hostile(value) -> tuple:
    return (NEGATIVE_INT, HUGE_INT) if isinstance(value, int) else (NEGATIVE_FLOAT, HUGE_FLOAT)


# The classroom recipe (a new user's form) shows all six boxes. Epochs is the case that misled: the
# recipe warms up for 1 epoch, so -5 epochs was refused as "warmup_epochs must be between 0 and 0;
# got 1." — a field without a box — until validate() checked epochs before the warm-up that depends on it.
TRAIN_REFUSALS = {
    ("train_batch_size", NEGATIVE_INT): "batch_size must be between 2 and 8192; got -5.",
    ("train_batch_size", HUGE_INT): "batch_size must be between 2 and 8192; got 1000000000000.",
    ("train_lr", NEGATIVE_FLOAT): "lr must be between 1e-07 and 10; got -5.",
    ("train_lr", HUGE_FLOAT): "lr must be between 1e-07 and 10; got 1e+12.",
    ("train_epochs", NEGATIVE_INT): "epochs must be between 1 and 10000; got -5.",
    ("train_epochs", HUGE_INT): "epochs must be between 1 and 10000; got 1000000000000.",
    ("train_seed", NEGATIVE_INT): "seed must be between 0 and 2147483647; got -5.",
    ("train_seed", HUGE_INT): "seed must be between 0 and 2147483647; got 1000000000000.",
    ("train_limit", NEGATIVE_INT): "limit must be between 20 and 10000000; got -5.",
    ("train_limit", HUGE_INT): "limit must be between 20 and 10000000; got 1000000000000.",
    ("train_budget", HUGE_FLOAT): "budget_minutes must be between 0.05 and 1440; got 1e+12.",
}


def test_every_train_box_refuses_negative_and_huge_values_in_one_sentence_and_starts_nothing(app_env, fixed_speed):
    at = open_app("train")
    keys = [box.key for box in at.number_input]
    assert sorted(keys) == sorted(["train_batch_size", "train_lr", "train_epochs", "train_seed", "train_limit", "train_budget"])
    for key in keys:
        before = at.number_input(key=key).value
        for value in hostile(before):
            at.number_input(key=key).set_value(value).run()
            assert_ok(at)
            if (key, value) in TRAIN_REFUSALS:
                assert errors(at) == [TRAIN_REFUSALS[key, value]], (key, value)
                assert button(at, "Start training").disabled
            else:  # the budget box's own minimum (the config's, 0.05 min) puts the old value back
                assert (key, value) == ("train_budget", NEGATIVE_FLOAT)
                assert at.number_input(key=key).value == before and not errors(at)
        at.number_input(key=key).set_value(before).run()
        assert not errors(at) and not button(at, "Start training").disabled
    assert RunStore(app_env / "runs").list() == []


def bounded_boxes_keep_their_value(at, keys: list[str], keeps: bool = True) -> None:
    """Each bounded box typed -5 and 10^12: the page runs on, the box holds a value inside its bounds
    (with ``keeps``, the one it held, when the value is out of them), and at most one sentence is shown.

    A box without a ``value`` of its own (Explain's image number) falls back to its minimum instead;
    in a browser the box itself refuses such a value before the page sees it."""
    for key in keys:
        box = at.number_input(key=key)
        before, low, high = box.value, box.min, box.max
        for value in hostile(before):
            at.number_input(key=key).set_value(value).run()
            assert_ok(at)
            now = at.number_input(key=key).value
            inside = (low is None or value >= low) and (high is None or value <= high)
            if inside:
                assert now == value, (key, value, now)
            else:
                assert now == before if keeps else low <= now <= high, (key, value, now)
            assert len(errors(at)) <= 1, errors(at)
        at.number_input(key=key).set_value(before).run()


@pytest.mark.parametrize(("page", "keys"), [("dataset", ["dataset_seed"]), ("augmentation_lab", ["lab_seed"])])
def test_a_seed_box_takes_a_huge_seed_and_keeps_its_seed_for_a_negative_one(app_env, page, keys):
    at = open_app(page)
    bounded_boxes_keep_their_value(at, keys)
    assert not errors(at)
    assert at.number_input(key=keys[0]).value == 0


def test_the_experiments_boxes_keep_their_bounds_and_start_nothing(app_env, fixed_speed):
    at = open_app("experiments", session=SMALL_TRAIN)
    bounded_boxes_keep_their_value(at, ["experiments_seeds", "experiments_budget"])
    assert (at.number_input(key="experiments_seeds").value, at.number_input(key="experiments_budget").value) == (2, 30.0)
    assert RunStore(app_env / "runs").list() == []


def test_the_robustness_and_explain_boxes_keep_their_bounds(trained_run):
    at = open_app("robustness")
    bounded_boxes_keep_their_value(at, ["robustness_limit"])
    assert at.number_input(key="robustness_limit").value == 1000
    at = open_app("explain")
    bounded_boxes_keep_their_value(at, ["explain_index"], keeps=False)
    at.radio(key="explain_view").set_value("Every mistake").run()
    bounded_boxes_keep_their_value(at, ["explain_mistakes_page"])
    assert at.number_input(key="explain_mistakes_page").value == 1
    assert [run.id for run in RunStore(trained_run.dir.parent).list()] == [trained_run.id]
