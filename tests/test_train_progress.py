"""One progress for every reader (the CLI bar, the Train and Runs pages, the summary), so they never
disagree about a run, and time budgets that are used to the end."""

from __future__ import annotations

import re
import time
from functools import partial

import pytest
import support
from app_support import metrics, navigate, open_app
from support import cli_args

from cifar_core.cli import main
from cifar_core.data import load_synthetic
from cifar_core.device import single_thread
from cifar_core.runs import RunStore
from cifar_core.runs.progress import plan_changes, progress_from_events
from cifar_core.train import train

tiny_config = partial(support.tiny_config, epochs=2, batch_size=32, lr=3e-3)


def _start(spe: int, planned: int | None, start_epoch: int = 0) -> dict:
    return {"type": "start", "steps_per_epoch": spe, "planned_steps": planned, "start_epoch": start_epoch, "epochs": 40}


def test_a_budget_event_replaces_the_epoch_cap_and_a_cut_last_epoch_counts_its_own_steps():
    events = [_start(10, None), {"type": "step", "epoch": 1, "global_step": 4}]
    assert progress_from_events(events, tiny_config(epochs=40)) == progress_from_events(events, tiny_config(epochs=40))
    before_fit = progress_from_events(events, tiny_config(epochs=40))
    assert (before_fit.epochs_planned, before_fit.steps_planned, before_fit.steps_done) == (40, 400, 4)
    events += [
        {"type": "budget", "steps": 25, "epochs": 3},
        {"type": "epoch", "epoch": 1},
        {"type": "epoch", "epoch": 2},
        {"type": "step", "epoch": 3, "global_step": 23},
    ]
    progress = progress_from_events(events, tiny_config(epochs=40))
    assert (progress.epochs_done, progress.epochs_planned, progress.steps_done, progress.steps_planned) == (2, 3, 23, 25)
    assert progress.epoch_steps == 5 and progress.fraction == pytest.approx(23 / 25)
    finished = progress_from_events(events + [{"type": "epoch", "epoch": 3}], tiny_config(epochs=40))
    assert (finished.epochs_done, finished.steps_done, finished.fraction) == (3, 25, 1.0)


def test_a_resume_counts_each_epoch_once_and_restates_the_checkpoints_plan():
    events = [
        _start(10, None),
        {"type": "budget", "steps": 35, "epochs": 4},
        {"type": "epoch", "epoch": 1},
        {"type": "epoch", "epoch": 2},  # epoch 2's checkpoint was lost in the crash
        {"type": "resume", "epoch": 1},
        _start(10, 35, start_epoch=1),
    ]
    progress = progress_from_events(events, tiny_config(epochs=40))
    assert (progress.epochs_done, progress.epochs_planned, progress.steps_done) == (1, 4, 10)


def test_a_run_not_started_or_with_damaged_events_reports_what_it_can():
    assert progress_from_events([], tiny_config(epochs=7)).epochs_planned == 7
    assert progress_from_events([], None).epochs_planned == 0
    damaged = [
        [1, 2, 3],
        {"type": "epoch", "epoch": "two"},
        _start(5, 10),
        {"type": "step", "global_step": "high"},
        {"type": "epoch", "epoch": 1},
    ]
    progress = progress_from_events(damaged, tiny_config())
    assert (progress.epochs_done, progress.epochs_planned, progress.steps_done) == (1, 2, 5)


def test_cli_bar_epoch_lines_train_and_runs_pages_and_run_summary_report_the_same_planned_epochs_on_a_budget_run(app_env, capsys):
    out = app_env / "runs" / "budget-run"
    code = main(cli_args("train", data="synthetic", epochs=60, budget_minutes=0.1, batch_size=32, limit=200, log_every=1, out=out))
    assert code == 0
    captured = capsys.readouterr()
    run = RunStore(app_env / "runs").get("budget-run")
    summary, progress = run.summary(), run.progress()
    budget = run.events("budget")[-1]
    assert budget["epochs"] < 60  # the budget, not the cap, decided the length
    assert summary["epochs_planned"] == progress.epochs_planned == budget["epochs"] == summary["epochs_done"]
    epoch_lines = re.findall(r"epoch (\d+)/(\d+):", captured.out)
    assert len(epoch_lines) == summary["epochs_done"] and epoch_lines[-1] == (str(budget["epochs"]), str(budget["epochs"]))
    assert f"{summary['epochs_done']}/{summary['epochs_planned']} epochs" in captured.out
    bar_counts = re.findall(r"(\d+)/(\d+) \[", captured.err)  # tqdm's "n/total [elapsed<remaining"
    assert bar_counts[-1] == (str(progress.steps_planned), str(progress.steps_planned))
    shown = f"{summary['epochs_done']}/{summary['epochs_planned']}"
    page = open_app("train", {"run": "budget-run"})
    assert metrics(page)["Epochs done"] == shown
    assert navigate(page, "runs").dataframe[0].value.set_index("run").loc["budget-run", "epochs"] == shown


def test_a_budget_is_used_to_its_end_counting_what_was_spent_before_training():
    synthetic = load_synthetic()  # 800 training images, 200 validation: 25 steps an epoch at batch 32
    budget_s, spent_before = 15.0, 3.0  # e.g. process start and data load, paid from the same minute
    clock_start = time.time() - spent_before
    events = []
    with single_thread():  # two threads on a shared, busy 2-core machine made steps 20x slower and erratic
        result = train(
            tiny_config(epochs=1000, limit=None, budget_minutes=budget_s / 60), synthetic, on_event=events.append, clock_start=clock_start
        )
    used = time.time() - clock_start
    assert result.status == "finished"
    assert 0.9 * budget_s <= used <= 1.1 * budget_s, f"used {used:.1f} s of a {budget_s:.0f} s budget"
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1)) and len(epochs) == result.epochs_done
    last_plan = [e for e in events if e["type"] == "budget"][-1]
    steps_per_epoch = events[0]["steps_per_epoch"]
    expected_fraction = (last_plan["steps"] - (len(epochs) - 1) * steps_per_epoch) / steps_per_epoch
    assert epochs[-1]["epoch_fraction"] == pytest.approx(expected_fraction)  # a cut last epoch says how much of it ran
    assert all(e["epoch_fraction"] == 1.0 for e in epochs[:-1])


def test_the_planned_epochs_shown_move_only_when_a_refit_moves_the_plan_by_a_whole_epoch():
    # a first fit of 21 epochs from the first steps, then refits as the machine's speed wobbles
    events = [_start(16, None), {"type": "budget", "steps": 21 * 16, "epochs": 21}, {"type": "step", "epoch": 1, "global_step": 9}]
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 21
    events += [{"type": "epoch", "epoch": 1}, {"type": "budget", "steps": 80, "epochs": 5}]  # a real slow-down: shown at once
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 5
    events += [{"type": "budget", "steps": 83, "epochs": 6}]  # 3 steps more: 6 epochs by the plan, still 5 shown
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 5
    events += [{"type": "budget", "steps": 78, "epochs": 5}, {"type": "budget", "steps": 99, "epochs": 7}]  # 19 steps past 80
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 7
    assert [(before["epochs"], after["epochs"]) for before, after in plan_changes(events)] == [(21, 5), (5, 7)]
    events += [{"type": "budget", "steps": 90, "epochs": 6}] + [{"type": "epoch", "epoch": epoch} for epoch in range(2, 6)]
    events += [{"type": "step", "epoch": 6, "global_step": 85}]
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 7  # 9 steps: the 7 shown stays
    events += [{"type": "epoch", "epoch": 6}]  # every planned step done: the epochs it trained
    assert progress_from_events(events, tiny_config(epochs=30)).epochs_planned == 6
