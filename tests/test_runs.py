"""Run store: safe ids, atomic and tamper-proof checkpoints, background processes that survive,
report interruption, resume, cancel and queue."""

from __future__ import annotations

import errno
import json
import os
import signal
import time

import pytest
import torch
from support import tiny_config, wait_for

from cifar_core.errors import CheckpointError, RunError
from cifar_core.runs import RunStore, load_checkpoint, save_checkpoint
from cifar_core.runs.process import cancel, execute, launch


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden", "x" * 81, "..", "run id", "/abs"])
def test_run_ids_that_could_escape_or_confuse_are_refused(tmp_path, bad):
    with pytest.raises(RunError, match="Invalid run id"):
        RunStore(tmp_path).path_for(bad)


def test_create_writes_config_and_queued_status(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(tiny_config(), "first-run")
    assert json.loads(run.config_path.read_text())["data"] == "synthetic"
    assert run.raw_status()["state"] == "queued"
    assert [r.id for r in store.list()] == ["first-run"]
    with pytest.raises(RunError, match="already exists"):
        store.create(tiny_config(), "first-run")


def _payload(value: float) -> dict:
    return {"format": "cifar-explorer-checkpoint", "config": {}, "classes": [], "epoch": 1, "model": {"w": torch.full((3,), value)}}


def test_checkpoint_write_is_atomic_and_a_full_disk_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1.0))
    real_save = torch.save

    def full_disk(obj, handle):
        real_save(obj, handle)  # part of the bytes land, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="Disk full while writing .*last.pt"):
        save_checkpoint(path, _payload(2.0))
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-marker",))


def test_tampered_checkpoint_is_refused_without_running_its_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "best.pt"
    torch.save({"format": "cifar-explorer-checkpoint", "model": _Exploit()}, path)
    with pytest.raises(CheckpointError, match="not a loadable cifar-explorer checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned-marker").exists()


def test_foreign_and_truncated_checkpoints_get_clear_errors(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a cifar-explorer checkpoint"):
        load_checkpoint(foreign)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(truncated, _payload(1.0))
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(truncated)


def test_full_disk_during_training_fails_the_run_with_a_clear_error(tmp_path, monkeypatch):
    run = RunStore(tmp_path).create(tiny_config(), "disk-full")

    def full_disk(obj, handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    assert execute(run) is None
    status = run.status()
    assert status["state"] == "failed" and "Disk full" in status["error"]


def test_background_run_finishes_and_leaves_a_readable_folder(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(epochs=2), "bg")
    launch(run)
    wait_for(lambda: run.state in ("finished", "failed"))
    assert run.state == "finished", run.log_path.read_text()
    assert [e["epoch"] for e in run.events("epoch")] == [1, 2]
    assert load_checkpoint(run.checkpoint_path("best"))["epoch"] in (1, 2)
    assert load_checkpoint(run.checkpoint_path("last"))["epoch"] == 2
    summary = run.summary()
    assert summary["epochs_done"] == 2 and summary["best_val_acc"] is not None


def test_killed_run_shows_interrupted_and_resume_continues_from_its_last_epoch(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(epochs=12, limit=200), "killed")
    launch(run)
    wait_for(lambda: len(run.events("epoch")) >= 1)
    os.kill(run.raw_status()["pid"], signal.SIGKILL)
    wait_for(lambda: run.state == "interrupted", timeout=10)
    done = load_checkpoint(run.checkpoint_path("last"))["epoch"]
    launch(run, resume=True)
    wait_for(lambda: run.state in ("finished", "failed"), timeout=300)
    assert run.state == "finished", run.log_path.read_text()
    events = run.events()
    resume_at = next(i for i, e in enumerate(events) if e["type"] == "resume")
    assert events[resume_at]["epoch"] == done
    after = [e["epoch"] for e in events[resume_at:] if e["type"] == "epoch"]
    assert after == list(range(done + 1, 13))


def test_cancel_stops_a_running_run_and_keeps_its_checkpoints(tmp_path):
    run = RunStore(tmp_path).create(tiny_config(epochs=200), "to-cancel")
    launch(run)
    wait_for(lambda: len(run.events("epoch")) >= 1)
    cancel(run)
    wait_for(lambda: run.state == "cancelled", timeout=30)
    assert load_checkpoint(run.checkpoint_path("last"))["epoch"] >= 1
    assert len(run.events("epoch")) < 200
    with pytest.raises(RunError, match="not running"):
        cancel(run)


def test_cpu_runs_queue_one_at_a_time(tmp_path):
    store = RunStore(tmp_path)
    first = store.create(tiny_config(epochs=200), "first")
    second = store.create(tiny_config(epochs=1), "second")
    launch(first)
    wait_for(lambda: first.state == "running")
    launch(second)
    wait_for(lambda: second.raw_status().get("pid"))
    time.sleep(1.0)
    assert second.state == "queued"
    cancel(first)
    wait_for(lambda: second.state == "finished", timeout=120)
    assert first.state == "cancelled"


def test_deleting_an_active_run_is_refused(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(tiny_config(epochs=200), "busy")
    launch(run)
    wait_for(lambda: run.state == "running")
    with pytest.raises(RunError, match="cancel it before deleting"):
        store.delete("busy")
    cancel(run)
    wait_for(lambda: run.state == "cancelled", timeout=30)
    store.delete("busy")
    assert not run.dir.exists()
