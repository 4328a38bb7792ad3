"""Training engine: config validation, soft-label loss, learning, reproducibility, exact resume."""

from __future__ import annotations

from functools import partial

import pytest
import support
import torch
import torch.nn.functional as F

from cifar_core.data import load_synthetic
from cifar_core.errors import ConfigError
from cifar_core.metrics import confusion_matrix
from cifar_core.train import TrainConfig, train
from cifar_core.train.optim import lr_factor
from cifar_core.train.plan import CALIBRATION_STEPS, BudgetFitter, Plan, fit_steps
from cifar_core.train.splits import run_splits
from cifar_core.train.step import soft_cross_entropy


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic(n_per_class=40, seed=0, n_test_per_class=10)


# Learning in one epoch wants more images and a higher rate than the tiny default.
tiny_config = partial(support.tiny_config, lr=3e-3, limit=400)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("dropout", 1.5, "dropout must be between 0 and 0.95"),
        ("aug_p", -0.1, "aug_p must be between 0 and 1"),
        ("mix_p", 2, "mix_p must be between 0 and 1"),
        ("batch_size", 0, "batch_size must be between 2 and 8192"),
        ("batch_size", 3.5, "batch_size must be a whole number"),
        ("epochs", 0, "epochs must be between 1"),
        ("lr", 0.0, "lr must be between"),
        ("lr", float("nan"), "lr must be a number"),
        ("model", "vgg", "model must be one of"),
        ("optimizer", "lion", "optimizer must be one of"),
        ("augment_ops", ["rotation", "warp"], "Unknown augmentation"),
        ("val_fraction", 0.0, "val_fraction must be above 0 unless train_on_full"),
        ("limit", 5, "limit must be between 20"),
        ("lookahead", "yes", "lookahead must be true or false"),
    ],
)
def test_config_refuses_out_of_range_values_naming_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_config_round_trips_through_json_and_refuses_unknown_keys():
    config = tiny_config(aug_p=0.1, augment_ops=["rotation", "cutmix"])
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="Unknown config field"):
        TrainConfig.from_dict({**config.to_dict(), "learning_rate": 0.1})


def test_soft_cross_entropy_matches_hard_cross_entropy_on_one_hot_targets():
    logits = torch.randn(8, 10)
    labels = torch.randint(0, 10, (8,))
    one_hot = F.one_hot(labels, 10).float()
    assert torch.allclose(soft_cross_entropy(logits, one_hot), F.cross_entropy(logits, labels))
    assert torch.allclose(soft_cross_entropy(logits, one_hot, label_smoothing=0.2), F.cross_entropy(logits, labels, label_smoothing=0.2))


def test_soft_cross_entropy_of_a_mixed_label_is_the_weighted_sum():
    logits = torch.randn(1, 10)
    mixed = torch.zeros(1, 10)
    mixed[0, 2], mixed[0, 7] = 0.7, 0.3
    expected = 0.7 * F.cross_entropy(logits, torch.tensor([2])) + 0.3 * F.cross_entropy(logits, torch.tensor([7]))
    assert torch.allclose(soft_cross_entropy(logits, mixed), expected)


def test_confusion_matrix_counts_true_rows_predicted_columns():
    matrix = confusion_matrix(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 0]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_onecycle_warms_up_then_decays_to_zero():
    config = tiny_config(schedule="onecycle", warmup_epochs=1.0, epochs=4)
    factors = [lr_factor(config, step, total_steps=40, steps_per_epoch=10) for step in range(40)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] == pytest.approx(1 / 30)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_a_run_shorter_than_its_warm_up_still_warms_up_and_decays_to_zero():
    config = tiny_config(schedule="onecycle", warmup_epochs=1.0, epochs=40)
    factors = [lr_factor(config, step, total_steps=40, steps_per_epoch=79) for step in range(41)]  # a budget cut 79-step epochs to 40
    assert factors[9] == pytest.approx(1.0) and factors[40] == 0.0  # warm-up capped at 25% of the steps
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_run_splits_are_stratified_disjoint_and_reproducible(synthetic):
    config = tiny_config(limit=200, val_fraction=0.2)
    splits = run_splits(config, synthetic)
    assert len(splits.train) == 160 and len(splits.val) == 40
    assert not set(splits.train.tolist()) & set(splits.val.tolist())
    val_labels = synthetic.splits["train"].labels[splits.val]
    assert torch.bincount(val_labels, minlength=10).tolist() == [4] * 10
    again = run_splits(config, synthetic)
    assert torch.equal(again.val, splits.val)


def test_training_reports_per_epoch_metrics_and_learns_the_synthetic_classes(synthetic):
    events = []
    result = train(tiny_config(epochs=3, batch_size=16, lr=2e-3, aug_p=0.0, mix_p=0.0), synthetic, on_event=events.append)
    epochs = [e for e in events if e["type"] == "epoch"]
    steps = [e for e in events if e["type"] == "step"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert len(steps) >= 3 * 2  # running loss moves within an epoch (log_every=2 steps)
    for epoch in epochs:
        assert 0 <= epoch["train_acc"] <= 1 and epoch["val_error"] == pytest.approx(1 - epoch["val_acc"])
        assert sum(map(sum, epoch["confusion"])) == 80 and epoch["images_per_s"] > 0
    assert result.status == "finished" and result.best_val_acc == max(e["val_acc"] for e in epochs)
    assert result.best_val_acc > 0.5  # chance is 0.1


def test_same_seed_gives_the_same_first_epoch_on_cpu(synthetic):
    runs = []
    for _ in range(2):
        events = []
        train(tiny_config(aug_p=0.5, mix_p=0.5), synthetic, on_event=events.append)
        runs.append([e for e in events if e["type"] == "epoch"][0])
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "confusion"):
        assert runs[0][key] == runs[1][key], key


def test_cutmix_training_uses_soft_labels_and_stays_finite(synthetic):
    events = []
    train(tiny_config(aug_p=0.0, mix_p=1.0, augment_ops=["cutmix"]), synthetic, on_event=events.append)
    epoch = [e for e in events if e["type"] == "epoch"][0]
    assert torch.isfinite(torch.tensor(epoch["train_loss"])) and epoch["train_loss"] > 0


@pytest.mark.parametrize("lookahead", [False, True])
def test_resume_from_a_checkpoint_continues_exactly_like_an_uninterrupted_run(synthetic, lookahead):
    config = tiny_config(epochs=2, aug_p=0.3, mix_p=0.3, lookahead=lookahead, batch_size=48)  # 7 steps: not a sync
    straight = train(config, synthetic)
    saved = {}
    first = train(config.replace(epochs=2), synthetic, save=saved.__setitem__, should_stop=lambda: "last" in saved)
    assert first.status == "cancelled" and saved["last"]["epoch"] == 1
    if lookahead:  # the slow weights are state of their own, so resume must restore them
        model, slow = saved["last"]["model"], saved["last"]["lookahead"]
        assert any(not torch.equal(model[name], value) for name, value in slow.items())
    resumed = train(config, synthetic, resume=saved["last"])
    assert resumed.status == "finished"
    for a, b in zip(straight.history, resumed.history):
        assert a["train_loss"] == b["train_loss"] and a["val_acc"] == b["val_acc"]


def test_cancel_between_steps_stops_before_the_first_epoch_ends(synthetic):
    calls = []
    result = train(tiny_config(epochs=5), synthetic, should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert result.status == "cancelled" and result.epochs_done == 0 and result.history == []


def test_split_seed_keeps_the_validation_images_fixed_across_training_seeds(synthetic):
    a = run_splits(tiny_config(seed=1, split_seed=7), synthetic)
    b = run_splits(tiny_config(seed=2, split_seed=7), synthetic)
    c = run_splits(tiny_config(seed=7), synthetic)
    assert torch.equal(a.val, b.val) and torch.equal(a.val, c.val)
    assert not torch.equal(run_splits(tiny_config(seed=1), synthetic).val, a.val)


def test_an_op_can_have_its_own_probability_apart_from_its_group():
    config = tiny_config(
        augment_ops=["hflip", "translate", "cutmix"],
        aug_p=0.5,
        mix_p=0.1,
        augment_params={"translate": {"translate": [0.0625, 0.0625], "p": 1.0}},
    )
    probabilities = {op.name: op.p for op in config.augment_config().ops}
    assert probabilities == {"hflip": 0.5, "translate": 1.0, "cutmix": 0.1}
    assert config.augment_config().ops[1].params == {"translate": [0.0625, 0.0625]}
    with pytest.raises(ConfigError, match="Probability p for translate"):
        tiny_config(augment_ops=["translate"], augment_params={"translate": {"p": 1.5}})


def test_budget_fit_counts_whole_steps_and_validations_into_the_remaining_time():
    # 0.5 s a step, 10 steps and 1 s of validation an epoch, 55 s left after 9 steps:
    # (55 - 1 s final validation) / (0.5 + 0.1 s) = 90 more steps
    assert fit_steps(remaining_s=55.0, step_s=0.5, validation_s=1.0, steps_done=9, steps_per_epoch=10, max_steps=1000) == 99
    assert fit_steps(remaining_s=55.0, step_s=0.5, validation_s=1.0, steps_done=9, steps_per_epoch=10, max_steps=20) == 20  # a cap
    assert fit_steps(remaining_s=-3.0, step_s=0.5, validation_s=1.0, steps_done=9, steps_per_epoch=10, max_steps=1000) == 9


def test_budget_fitter_times_steps_after_the_first_and_refits_as_the_run_goes():
    clock = {"now": 1000.0}
    events = []
    # launched at t = 995: the 5 s of start-up before training count against the 1-minute budget
    fitter = BudgetFitter(1.0, clock_start=995.0, max_steps=1000, val_batches=3.0, on_event=events.append, clock=lambda: clock["now"])
    plan = Plan(steps_per_epoch=10, steps=1000)
    for done in range(1, CALIBRATION_STEPS + 1):  # 0.5 s a step; the first warms up, untimed
        clock["now"] += 0.5
        plan = fitter.after_step(done, plan)
    # fitted after step 8 at t = 1004: 51 s left, 0.5 s a step, validation guessed at 3 batches x 0.5 s / 3
    assert plan.steps == 8 + 91 and (plan.epochs, events[-1]["epochs"], events[-1]["steps"]) == (10, 10, 99)
    fitter.validated(1.0)  # the first validation took 1 s
    clock["now"] += 1.0
    for done in range(CALIBRATION_STEPS + 1, 2 * CALIBRATION_STEPS + 1):  # steps got faster: 0.25 s
        clock["now"] += 0.25
        plan = fitter.after_step(done, plan)
    # refit at step 16 (t = 1007) from its own window, validation left out: 48 s left,
    # (48 - 1 s final validation) / (0.25 + 0.1 validation share) = 134 more steps
    assert plan.steps == 16 + 134 and events[-1]["steps"] == 150 and len(events) == 2


def simulate_budget_run(step_s_at, budget_minutes=15.0, steps_per_epoch=44, validation_s=4.0) -> float:
    """Seconds from launch to the end of a simulated budget run: ``step_s_at(step)`` is each step's cost,
    every whole epoch and the last one end with a validation of ``validation_s``."""
    clock = {"now": 0.0}
    fitter = BudgetFitter(
        budget_minutes, clock_start=0.0, max_steps=10**6, val_batches=5.0, on_event=lambda e: None, clock=lambda: clock["now"]
    )
    plan = Plan(steps_per_epoch=steps_per_epoch, steps=10 * steps_per_epoch)
    done = 0
    while done < plan.steps:
        done += 1
        clock["now"] += step_s_at(done)
        plan = fitter.after_step(done, plan)
        if done % steps_per_epoch == 0 and done < plan.steps:
            clock["now"] += validation_s
            fitter.validated(validation_s)
    return clock["now"] + validation_s


def test_a_machine_that_slows_late_in_the_run_still_ends_within_the_budget():
    # fast_wide's shape on the 2-core CPU: 44 steps of 2.2 s an epoch, 15 minutes; the machine gets 10%
    # slower after step 260 (a late burst of other work). Doubling alone last refitted at step 256 and
    # ended 6 s past the deadline; a refit once an epoch keeps it within one slow step.
    end = simulate_budget_run(lambda step: 2.2 if step <= 260 else 2.42)
    assert 0.95 * 900 <= end <= 900 + 2.42
    assert 0.99 * 900 <= simulate_budget_run(lambda step: 2.2) <= 900  # a steady machine uses its budget (less at most one validation)


def test_a_budget_with_short_epochs_is_fitted_within_the_first_epoch():
    clock = {"now": 0.0}
    events = []
    fitter = BudgetFitter(0.1, clock_start=0.0, max_steps=300, val_batches=1.0, on_event=events.append, clock=lambda: clock["now"])
    plan = Plan(steps_per_epoch=3, steps=300)
    for done in (1, 2, 3):  # 0.1 s a step
        clock["now"] += 0.1
        plan = fitter.after_step(done, plan)
    assert len(events) == 1 and 3 < plan.steps < 300  # so the first epoch's checkpoint, which a resume keeps, holds the fit


def test_a_budget_spent_before_the_first_fit_stops_at_once():
    clock = {"now": 1000.0}
    events = []
    # the data load took 50 of the 60 s; steps take 4 s on a machine other work is slowing down
    fitter = BudgetFitter(1.0, clock_start=950.0, max_steps=1000, val_batches=3.0, on_event=events.append, clock=lambda: clock["now"])
    plan = Plan(steps_per_epoch=10, steps=1000)
    done = 0
    while done < plan.steps:
        done += 1
        clock["now"] += 4.0
        plan = fitter.after_step(done, plan)
    # after step 2 (t = 1008) the last validation, guessed at 3 batches x 4 s / 3 = 4 s, would end past
    # the deadline (t = 1010): the run stops there, so it ends on time
    assert done == plan.steps == 2 and clock["now"] == 1008.0
    assert [(e["steps"], e["epochs"]) for e in events] == [(2, 1)]


def test_a_budget_that_ends_inside_an_epoch_stops_there_with_the_schedule_finished(synthetic, monkeypatch):
    from cifar_core.train import plan as plan_module

    def fit_one_and_a_half_epochs(self, steps_done, plan):
        return Plan(plan.steps_per_epoch, plan.steps_per_epoch + plan.steps_per_epoch // 2)

    monkeypatch.setattr(plan_module.BudgetFitter, "after_step", fit_one_and_a_half_epochs)
    config = tiny_config(budget_minutes=5.0, epochs=4, optimizer="sgd", lr=0.05, schedule="onecycle", lookahead=True)
    events, saved = [], {}
    result = train(config, synthetic, on_event=events.append, save=saved.__setitem__)
    steps = [e for e in events if e["type"] == "step"]
    spe = steps[0]["steps_per_epoch"]
    assert result.epochs_done == 2 and len(result.history) == 2
    assert steps[-1]["global_step"] == spe + spe // 2  # the last epoch was cut at the planned step
    assert steps[-1]["epoch_steps"] == spe // 2 and steps[-1]["eta_s"] == 0
    assert steps[-1]["lr"] == pytest.approx(0.0, abs=1e-9)  # the decay reached its end
    assert saved["last"]["planned_steps"] == spe + spe // 2
