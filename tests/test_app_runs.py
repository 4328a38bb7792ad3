"""Runs page: the table, overlaid curves, config diff, resume, re-run and confirmed delete."""

from __future__ import annotations

import json

import pytest
from app_support import assert_ok, button, charts, open_app, page_text
from support import tiny_config

from cifar_core.runs import RunStore


@pytest.fixture
def launches(monkeypatch):
    """Record launches instead of starting worker processes."""
    calls = []
    monkeypatch.setattr("cifar_core.runs.process.launch", lambda run, resume=False: calls.append((run.id, resume)) or 0)
    return calls


def test_no_runs_yet_is_explained(app_env):
    assert "No runs yet" in page_text(open_app("runs"))


def test_table_lists_every_run_with_state_and_best_accuracy(trained_run):
    RunStore().create(tiny_config(dropout=0.5), "never-started")
    at = open_app("runs")
    table = at.dataframe[0].value
    assert set(table["run"]) == {"tiny-run", "never-started"}
    rows = table.set_index("run")
    assert rows.loc["tiny-run", "state"] == "finished" and rows.loc["tiny-run", "epochs"] == "1/1"
    assert rows.loc["never-started", "state"] == "interrupted"
    assert 0 <= rows.loc["tiny-run", "best val acc"] <= 100  # in %
    assert 100 * trained_run.summary()["best_val_acc"] == pytest.approx(rows.loc["tiny-run", "best val acc"])
    # the visible columns fit beside the sidebar at 1366 px (about 880 px); the settings start hidden
    config = json.loads(at.dataframe[0].proto.columns)
    hidden = {name for name, column in config.items() if column.get("hidden") and name != "_index"}
    assert hidden == {"dropout", "aug_p", "mix_p", "batch", "lr"} and rows.loc["never-started", "dropout"] == 0.5
    assert sum(config[name]["width"] for name in table.columns if name not in hidden) <= 880


def test_selected_runs_are_overlaid_and_their_config_diff_shown(trained_run):
    RunStore().create(tiny_config(dropout=0.5, lr=0.01), "other")
    at = open_app("runs")
    assert at.multiselect(key="runs_overlay").value == ["tiny-run"]  # runs with epochs, by default
    at.multiselect(key="runs_overlay").set_value(["tiny-run", "other"]).run()
    names = {trace["name"] for trace in charts(at)[0]["data"]}
    assert "tiny-run · validation accuracy" in names
    at.selectbox(key="runs_diff_a").set_value("tiny-run")
    at.selectbox(key="runs_diff_b").set_value("other").run()
    diff = at.dataframe[-1].value  # the table, then the diff
    assert diff["setting"].tolist() == ["dropout", "lr"]
    assert diff.set_index("setting").loc["dropout"].tolist() == ["0.2", "0.5"]
    at.multiselect(key="runs_overlay").set_value([]).run()
    assert charts(at) == []


def test_rerun_creates_a_new_run_with_the_same_config_and_opens_it_in_train(trained_run, launches):
    at = open_app("runs")
    at.selectbox(key="runs_target").set_value("tiny-run").run()
    button(at, "Re-run this config").click().run()
    assert_ok(at)
    runs = RunStore().list()
    new = next(run for run in runs if run.id != "tiny-run")
    assert new.config() == trained_run.config()
    assert launches == [(new.id, False)]
    assert at.title[0].value == "Train" and at.query_params["run"] == new.id


def test_an_interrupted_run_can_be_resumed_and_a_finished_one_cannot(trained_run, launches, monkeypatch):
    monkeypatch.setenv("CIFAR_EXPLORER_TEACHER_KEY", "k3y")  # a served app: the run is not this browser's, the teacher's key is
    at = open_app("runs", query_params={"teacher": "k3y"})
    assert button(at, "Resume").disabled  # finished
    trained_run.update_status(state="running", pid=2**22 + 7)  # its process is gone: interrupted
    at.run()
    assert "State: **interrupted**" in page_text(at)
    button(at, "Resume").click().run()
    assert launches == [("tiny-run", True)]


def test_delete_needs_confirmation(trained_run, monkeypatch):
    monkeypatch.setenv("CIFAR_EXPLORER_TEACHER_KEY", "k3y")
    at = open_app("runs", query_params={"teacher": "k3y"})
    assert button(at, "Delete run").disabled
    at.checkbox(key="runs_confirm_tiny-run").check().run()
    button(at, "Delete run").click().run()
    assert_ok(at)
    assert not trained_run.dir.exists()
    assert "No runs yet" in page_text(at)


def test_evaluate_button_selects_the_run_and_opens_evaluate(trained_run):
    RunStore().create(tiny_config(), "zz-newer")
    at = open_app("runs")
    at.selectbox(key="runs_target").set_value("tiny-run").run()
    button(at, "Evaluate").click().run()
    assert_ok(at)
    assert at.title[0].value == "Evaluate"
    assert at.sidebar.selectbox(key="sidebar_run").value == "tiny-run"


def test_a_run_can_be_named_and_its_name_is_in_the_table(trained_run):
    at = open_app("runs")
    at.text_input(key="runs_name_tiny-run").input("no rotation").run()
    at.text_area(key="runs_notes_tiny-run").input("baseline for the lesson").run()
    button(at, "Save").click().run()
    assert_ok(at)
    assert at.dataframe[0].value.set_index("run").loc["tiny-run", "name"] == "no rotation"
    assert (trained_run.dir / "notes.json").is_file()


def test_export_offers_a_checked_onnx_file_for_download(trained_run):
    """Runs has an Export button; its file is what the library exports, checked against PyTorch, so app and CLI hand out one format."""
    import onnx

    at = open_app("runs")
    button(at, "Export").click().run()
    assert_ok(at)
    [download] = [element for element in at.get("download_button")]
    assert f"{trained_run.id}.onnx" in download.proto.label
    assert "largest difference from PyTorch" in page_text(at)
    assert "processes" not in at.dataframe[0].value.columns  # one-process runs: no world-size column
    assert not list(trained_run.dir.glob("*.onnx"))  # nothing written into the run folder
    onnx.checker.check_model(onnx.load_from_string(at.session_state[f"runs_exported_{trained_run.id}"][1]))


def test_a_run_trained_under_torchrun_shows_its_process_count(trained_run):
    """A torchrun run shows like any other, with its world size, so it is not mistaken for a one-process run."""
    events = trained_run.metrics_path.read_text().splitlines()
    start = json.loads(next(line for line in events if '"type": "start"' in line))
    with open(trained_run.metrics_path, "a") as handle:  # what rank 0 writes on a resume of a 2-process run
        handle.write(json.dumps({**start, "world_size": 2}) + "\n")
    at = open_app("runs")
    assert_ok(at)
    assert at.dataframe[0].value["processes"].tolist() == [2]
