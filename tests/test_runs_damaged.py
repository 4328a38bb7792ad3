"""One bad run must not take down the app: every kind of damaged run folder is
listed as ``damaged`` with its reason, and every other run keeps working in the library, the CLI
and the pages that list runs."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from app_support import assert_ok, open_app
from support import tiny_config

from cifar_core.cli import main
from cifar_core.runs import RunStore

GOOD_EPOCH = {"type": "epoch", "time": 1.0, "epoch": 1, "train_loss": 2.0, "train_acc": 0.3, "val_acc": 0.4, "val_loss": 1.9}


def _write(path: pathlib.Path, content: str | bytes) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


DAMAGES = {
    "status is a list": ("status.json", "[]", "status.json holds a list"),
    "created is a word": ("status.json", '{"state": "finished", "pid": null, "created": "yesterday"}', "created that is not a time"),
    "metrics line is a list": ("metrics.jsonl", "[1, 2, 3]\n", "metrics.jsonl line 1 is not an event"),
    "val_acc is a word": ("metrics.jsonl", json.dumps({**GOOD_EPOCH, "val_acc": "high"}) + "\n", "val_acc that is not a number"),
    "metrics are random bytes": ("metrics.jsonl", bytes(range(256)) + b"\n\xff\xfe\n", "metrics.jsonl line 1 is not valid JSON"),
    "config is a list": ("config.json", "[1, 2]", "config.json that holds a list"),
    "epochs is a word": ("config.json", None, "has a damaged config.json"),
}


def make_store_with_one_damaged_run(root: pathlib.Path, damage: str) -> RunStore:
    store = RunStore(root)
    good = store.create(tiny_config(), "good")
    good.update_status(state="finished", started=10.0, ended=70.0)
    good.append_event(GOOD_EPOCH)
    bad = store.create(tiny_config(), "bad")
    bad.update_status(state="finished")
    name, content, _ = DAMAGES[damage]
    if content is None:  # a config that is valid JSON with a wrong type
        content = json.dumps({**tiny_config().to_dict(), "epochs": "ten"})
    _write(bad.dir / name, content)
    return store


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_is_listed_as_damaged_with_its_reason_and_the_others_keep_working(tmp_path, damage):
    store = make_store_with_one_damaged_run(tmp_path, damage)
    runs = {run.id: run for run in store.list()}
    assert set(runs) == {"good", "bad"}
    bad = runs["bad"].summary()
    assert bad["state"] == "damaged" and DAMAGES[damage][2] in bad["error"]
    runs["bad"].status()
    assert all(isinstance(event, dict) for event in runs["bad"].events())
    good = runs["good"].summary()
    assert (good["state"], good["epochs_done"], good["best_val_acc"], good["duration_s"]) == ("finished", 1, 0.4, 60.0)


def test_good_lines_of_a_damaged_metrics_file_still_count(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(), "half")
    run.append_event(GOOD_EPOCH)
    with open(run.metrics_path, "a") as handle:
        handle.write('"just a string"\n')
    run.append_event({**GOOD_EPOCH, "epoch": 2, "val_acc": 0.6})
    assert [event["epoch"] for event in run.events("epoch")] == [1, 2]
    assert run.summary()["best_val_acc"] == 0.6 and "line 2" in run.summary()["error"]


def test_a_half_written_last_line_is_not_damage(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(), "writing")
    run.update_status(state="finished")
    run.append_event(GOOD_EPOCH)
    with open(run.metrics_path, "a") as handle:
        handle.write('{"type": "epo')
    assert run.summary()["state"] == "finished" and len(run.events()) == 1


def test_an_unreadable_run_folder_is_damaged_not_a_crash(tmp_path, monkeypatch):
    store = make_store_with_one_damaged_run(tmp_path, "status is a list")
    locked = store.root / "locked"
    locked.mkdir()
    (locked / "config.json").write_text("{}")
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads everything: make the reads of that folder fail the way they do for a user

        def refuse(original):
            def guarded(self, *args, **kwargs):
                if locked in self.parents:
                    raise PermissionError(13, "Permission denied", str(self))
                return original(self, *args, **kwargs)

            return guarded

        monkeypatch.setattr(pathlib.Path, "stat", refuse(pathlib.Path.stat))
        monkeypatch.setattr(pathlib.Path, "open", refuse(pathlib.Path.open))
    try:
        summaries = {run.id: run.summary() for run in store.list()}
        assert summaries["locked"]["state"] == "damaged" and "cannot be read" in summaries["locked"]["error"]
        assert summaries["good"]["state"] == "finished"
    finally:
        locked.chmod(0o755)


def test_runs_list_shows_damaged_runs_and_exits_zero(tmp_path, capsys):
    for index, damage in enumerate(DAMAGES):
        make_store_with_one_damaged_run(tmp_path / f"root{index}", damage)
        assert main(["runs", "--root", str(tmp_path / f"root{index}"), "list"]) == 0
        out = capsys.readouterr().out
        assert "good" in out and "finished" in out and "damaged" in out, (damage, out)
        assert main(["runs", "--root", str(tmp_path / f"root{index}"), "list", "--json"]) == 0
        rows = {row["run_id"]: row for row in json.loads(capsys.readouterr().out)}
        assert rows["bad"]["state"] == "damaged" and rows["good"]["state"] == "finished"


def test_a_damaged_run_can_be_deleted(tmp_path):
    store = make_store_with_one_damaged_run(tmp_path, "config is a list")
    store.delete("bad")
    assert [run.id for run in store.list()] == ["good"]


@pytest.mark.parametrize("damage", ["status is a list", "created is a word", "config is a list"])
def test_pages_that_list_runs_still_render_beside_a_damaged_run(app_env, damage):
    make_store_with_one_damaged_run(app_env / "runs", damage)
    for page in (None, "train", "runs"):
        at = open_app(page)  # the Dataset page, then Train and Runs: each draws the sidebar's run list
        assert_ok(at)
    table = at.dataframe[0].value
    assert dict(zip(table["run"], table["state"])) == {"good": "finished", "bad": "damaged"}
