"""The run store under hostile and clumsy input: delete only what it made, damaged runs
never take down a listing, no orphan folders, checkpoint faults as sentences.

None of these tests trains a model except the two that remove a run folder mid-training (a few
seconds on the synthetic set)."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil

import psutil
import pytest
import torch
from support import tiny_config, wait_for

from cifar_core.cli import main
from cifar_core.cli.train_cmd import store_and_id
from cifar_core.errors import CheckpointError, RunError
from cifar_core.runs import RunStore, load_checkpoint, save_checkpoint
from cifar_core.runs.process import execute, launch
from cifar_core.runs.procfolder import FolderGone
from cifar_core.runs.store import MARKER_NAME


def project_like_folder(path: pathlib.Path) -> pathlib.Path:
    """A user's folder that happens to hold a config.json (the probe's ``v/``)."""
    (path / "src").mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "src" / "main.py").write_text("print('precious')\n")
    return path


def tree(path: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# 1. delete only what the store made -------------------------------------------------------------
def test_runs_delete_of_a_project_folder_path_refuses_and_deletes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project = project_like_folder(tmp_path / "v")
    before = tree(project)
    assert main(["runs", "delete", "v/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a run folder" in err and len(err.strip().splitlines()) == 1
    assert tree(project) == before


def test_runs_delete_dot_refuses_and_deletes_nothing(tmp_path, monkeypatch, capsys):
    here = tmp_path / "work"
    project_like_folder(here)
    monkeypatch.chdir(here)
    before = tree(tmp_path)
    assert main(["runs", "delete", "./"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_a_config_json_folder_inside_the_runs_folder_is_not_deleted(tmp_path, capsys):
    project_like_folder(tmp_path / "v")
    before = tree(tmp_path)
    assert main(["runs", "--root", str(tmp_path), "delete", "v"]) == 2
    err = capsys.readouterr().err
    assert "not a run folder the run store made" in err and "src" in err
    assert tree(tmp_path) == before
    with pytest.raises(RunError, match="left untouched"):
        RunStore(tmp_path).delete("v")


def test_a_run_the_store_made_is_deleted_by_id_and_by_path(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    first, second = store.create(tiny_config(), "first"), store.create(tiny_config(), "second")
    first.update_status(state="finished")
    second.update_status(state="cancelled")
    (first.dir / "log.txt").write_text("log")
    (first.dir / ".last.pt.abc123.tmp").write_bytes(b"half")  # an interrupted atomic write
    assert json.loads((first.dir / MARKER_NAME).read_text())["run_id"] == "first"
    assert main(["runs", "--root", str(store.root), "delete", "first"]) == 0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(tmp_path / "default-runs"))
    assert main(["runs", "delete", "runs/second"]) == 0  # outside the default runs folder, but it has the marker
    assert not first.dir.exists() and not second.dir.exists() and store.root.is_dir()


def test_an_older_run_without_marker_is_deletable_only_when_it_looks_exactly_like_a_run(tmp_path):
    store = RunStore(tmp_path)
    for name, extra in (("old-run", None), ("old-plus-notes", "notes.txt"), ("config-only", False)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(tiny_config().to_dict()))
        if extra is not False:
            (folder / "status.json").write_text(json.dumps({"state": "finished", "pid": None, "created": 1.0}))
            (folder / "metrics.jsonl").write_text('{"type": "epoch", "epoch": 1, "val_acc": 0.5}\n')
        if extra:
            (folder / extra).write_text("mine")
    store.delete("old-run")
    assert not (tmp_path / "old-run").exists()
    with pytest.raises(RunError, match="notes.txt, which the run store never writes"):
        store.delete("old-plus-notes")
    with pytest.raises(RunError, match="neither the run store's .cifar-explorer-run marker nor config.json and status.json"):
        store.delete("config-only")
    assert (tmp_path / "old-plus-notes" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "config-only" / "config.json").is_file()


def test_a_link_in_the_runs_folder_is_never_followed(tmp_path):
    outside = RunStore(tmp_path / "elsewhere").create(tiny_config(), "target")
    outside.update_status(state="finished")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "link").symlink_to(outside.dir)
    with pytest.raises(RunError, match="points outside"):
        RunStore(runs).delete("link")
    assert main(["runs", "--root", str(runs), "delete", str(runs / "link")]) == 2
    assert outside.config_path.is_file()


def test_a_marker_folder_with_foreign_files_is_refused(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(), "mixed")
    run.update_status(state="finished")
    (run.dir / "thesis.tex").write_text("years of work")
    with pytest.raises(RunError, match="thesis.tex"):
        RunStore(tmp_path).delete("mixed")
    assert (run.dir / "thesis.tex").read_text() == "years of work"


# 3. no orphans ---------------------------------------------------------------------------------
def test_a_full_disk_at_create_leaves_no_folder_and_the_name_stays_free(tmp_path, monkeypatch):
    store = RunStore(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError, match="Disk full"):
        store.create(tiny_config(), "wanted")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    assert store.create(tiny_config(), "wanted").raw_status()["state"] == "queued"


def test_a_run_cut_off_during_create_is_listed_as_damaged_and_deletable(tmp_path):
    store = RunStore(tmp_path)
    store.create(tiny_config(), "whole").update_status(state="finished")
    half = tmp_path / "half"
    half.mkdir()
    (half / MARKER_NAME).write_text(json.dumps({"format": "cifar-explorer-run", "run_id": "half", "created": 1.0}))
    rows = {run.id: run.summary() for run in store.list()}
    assert rows["half"]["state"] == "damaged" and "status.json is missing" in rows["half"]["error"]
    store.delete("half")
    assert [run.id for run in store.list()] == ["whole"]


def test_status_and_events_are_never_written_into_a_removed_run_folder(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(), "gone")
    shutil.rmtree(run.dir)
    with pytest.raises(FolderGone):
        run.update_status(heartbeat=1.0)
    with pytest.raises(FolderGone):
        run.append_event({"type": "step"})
    assert not run.dir.exists()


def test_a_run_folder_removed_during_training_is_not_recreated(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(epochs=3), "removed")

    def remove_after_first_epoch(event):
        if event["type"] == "epoch" and run.dir.exists():
            shutil.rmtree(run.dir)

    assert execute(run, on_event=remove_after_first_epoch) is None
    assert list(tmp_path.iterdir()) in ([], [tmp_path / ".training.lock"])


def test_a_detached_worker_whose_folder_is_removed_stops_and_recreates_nothing(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(epochs=500), "doomed")
    worker = psutil.Process(launch(run))

    def training() -> bool:
        if run.events("step"):
            return True
        assert worker.is_running(), "the worker ended before it trained"
        return False

    wait_for(training, timeout=120, interval=0.2, what="the worker training")
    while run.dir.exists():  # the worker may add a file while rmtree runs: remove until gone
        shutil.rmtree(run.dir, ignore_errors=True)
    worker.wait(timeout=60)  # it notices (heartbeat or its next write) and stops by itself
    assert not run.dir.exists()


def test_a_run_folder_replaced_during_training_is_left_to_its_new_owner(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(tiny_config(epochs=3), "same-name")

    def replace_after_first_epoch(event):
        if event["type"] == "epoch" and not (run.dir / "theirs.txt").exists():
            shutil.rmtree(run.dir)
            run.dir.mkdir()
            (run.dir / "theirs.txt").write_text("someone else's")

    assert execute(run, on_event=replace_after_first_epoch) is None
    assert sorted(p.name for p in run.dir.iterdir()) == ["theirs.txt"]


def test_a_foreground_train_on_bad_data_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "runs" / "bad-data"
    assert main(["train", "--data", str(tmp_path / "no-such-data"), "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()
    assert RunStore(tmp_path / "runs").list() == []


# 9. checkpoints, a full disk, the filesystem root -----------------------------------------------
def _payload(value: float) -> dict:
    return {"format": "cifar-explorer-checkpoint", "config": {}, "classes": [], "epoch": 1, "model": {"w": torch.full((3,), value)}}


@pytest.mark.parametrize("keep", [0, 1, 30, 200, 600])
def test_empty_or_truncated_checkpoints_are_one_sentence(tmp_path, keep):
    path = tmp_path / "best.pt"
    save_checkpoint(path, _payload(1.0))
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert ("empty (0 bytes)" in message) if keep == 0 else ("corrupt, truncated" in message)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_refused_checkpoint_never_suggests_weights_only_false(tmp_path):
    path = tmp_path / "best.pt"
    torch.save({"format": "cifar-explorer-checkpoint", "model": _Exploit()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "refused" in message and "posix.system" in message
    assert "weights_only" not in message and "likely succeed" not in message


class _FillingDisk:
    """A file that takes ``room`` bytes and then fails every write the way a full disk does."""

    def __init__(self, handle, room: int):
        self.handle, self.room = handle, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def test_a_disk_filling_inside_torch_save_is_reported_as_disk_full(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1.0))
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, handle: real_save(obj, _FillingDisk(handle, 300)))
    with pytest.raises(CheckpointError, match="Disk full while writing .*last.pt"):
        save_checkpoint(path, _payload(2.0))
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("out", ["/", "/cifar-explorer-test-run"])
def test_train_out_at_the_filesystem_root_is_refused(out):
    before = set(os.listdir("/"))
    store, run_id = store_and_id(out)
    try:
        with pytest.raises(RunError, match="Refusing to keep runs directly in /"):
            store.create(tiny_config(), run_id)
    finally:
        for name in set(os.listdir("/")) - before:  # only what a broken store made here
            if name.startswith((tiny_config().model, "cifar-explorer-test-run")):
                shutil.rmtree(os.path.join("/", name))
    assert set(os.listdir("/")) == before


def test_a_trained_run_with_tensorboard_explain_and_notes_is_deletable(trained_root, tmp_path):
    """The store's own writers add tensorboard/, explain/ and notes.json; delete removes them, nothing else."""
    from app_support import RUN_ID

    shutil.copytree(trained_root / RUN_ID, tmp_path / RUN_ID)
    run_dir = tmp_path / RUN_ID
    assert any((run_dir / "tensorboard").iterdir())
    (run_dir / "explain").mkdir()
    (run_dir / "explain" / "embedding-val.json").write_text("{}")
    (run_dir / "notes.json").write_text('{"name": "x", "notes": ""}')
    store = RunStore(tmp_path)
    store.delete(RUN_ID)
    assert not run_dir.exists()
    # a sub-folder holding a folder of someone else's is refused, and nothing is removed
    shutil.copytree(trained_root / RUN_ID, run_dir)
    (run_dir / "explain" / "private").mkdir(parents=True)
    with pytest.raises(RunError, match="left untouched"):
        store.delete(RUN_ID)
    assert (run_dir / "config.json").is_file() and (run_dir / "explain" / "private").is_dir()
