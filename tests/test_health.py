"""The chance-level warning: a run that has not learned says so, in words, with likely causes."""

from __future__ import annotations

from cifar_core.runs.health import chance_warning


def epochs(*accs: float) -> list[dict]:
    return [{"type": "epoch", "epoch": i + 1, "val_acc": acc, "train_acc": 0.3} for i, acc in enumerate(accs)]


def test_two_epochs_at_chance_are_a_warning_with_causes():
    warning = chance_warning(epochs(0.10, 0.108), 10)
    assert warning.startswith("Validation accuracy is 10.8% after 2 epoch(s), chance level for 10 classes (10%)")
    assert "too few images or epochs" in warning and "learning rate" in warning


def test_one_epoch_is_judged_only_at_the_runs_end():
    assert chance_warning(epochs(0.1), 10) is None
    assert "chance level" in chance_warning(epochs(0.1), 10, finished=True)


def test_a_run_above_chance_or_without_validation_is_not_warned_about():
    assert chance_warning(epochs(0.10, 0.121), 10) is None
    assert chance_warning(epochs(0.35, 0.5), 10) is None
    assert chance_warning([{"type": "epoch", "val_acc": None}] * 3, 10) is None
    assert chance_warning([], 10, finished=True) is None


def test_a_run_that_fell_back_to_chance_points_at_the_learning_rate():
    warning = chance_warning(epochs(0.4, 0.1), 10)
    assert "fell back to 10.0%" in warning and "learning rate is too high" in warning


def test_other_event_types_are_ignored_and_chance_follows_the_class_count():
    events = [{"type": "start"}, *epochs(0.5, 0.51), {"type": "step", "val_acc": 0.0}]
    assert "chance level for 2 classes (50%)" in chance_warning(events, 2)


def test_runs_list_says_which_runs_are_at_chance(tmp_path, capsys):
    from cifar_core.cli import main
    from cifar_core.runs import RunStore
    from cifar_core.train import TrainConfig

    store = RunStore(tmp_path)
    for run_id, accs in (("stuck", (0.1, 0.105)), ("learning", (0.3, 0.45))):
        run = store.create(TrainConfig(data="synthetic"), run_id)
        for event in epochs(*accs):
            run.append_event(event)
        run.update_status(state="finished")
    assert main(["runs", "--root", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    warned = [out[i - 1].split()[0] for i, line in enumerate(out) if line.startswith("  warning: Validation accuracy is 10.5%")]
    assert warned == ["stuck"]
