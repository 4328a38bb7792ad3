"""Hostile run folders and run ids: a folder that cannot be written refuses every writer in one
sentence (exit 2) while the readers keep working; a run id never holds '/' or '..', so such an argument is a
path, and every message that changes a run names its full folder; a status.json naming a live process that
is not the run's own (a forged or stale one) reads as interrupted to every reader and writer alike."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import tiny_config, wait_for

from cifar_core.cli import main
from cifar_core.errors import RunError
from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import execute


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only for real: a read-only bind mount as root (root ignores file modes), else chmod."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")] if path.is_dir()}
        for path in modes:
            path.chmod(0o555)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if not mounted or subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        pytest.skip("running as root without the right to mount, so no folder can be made read-only")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_runs_folder_refuses_writers_in_one_sentence_and_still_lists(tmp_path: Path, capsys) -> None:
    root = tmp_path / "runs"
    run = RunStore(root).create(tiny_config(), "the-run")
    with read_only(root):
        for action in ("delete", "resume"):
            assert main(["runs", "--root", str(root), action, "the-run"]) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "cannot be written" in err and str(run.dir) in err
        assert main(["runs", "--root", str(root), "list"]) == 0
        assert "the-run" in capsys.readouterr().out
    assert run.dir.is_dir()


def test_a_dotdot_argument_is_a_path_from_the_current_folder_named_in_full_never_a_run_id(tmp_path: Path, monkeypatch, capsys) -> None:
    """The issue's case: CIFAR_EXPLORER_RUNS=/x/rs, the current folder elsewhere, ``runs delete ../runs/base``."""
    configured = RunStore(tmp_path / "x" / "rs").create(tiny_config(), "base")  # the same id in the configured store
    elsewhere = RunStore(tmp_path / "runs").create(tiny_config(), "base")
    for run in (configured, elsewhere):
        run.update_status(state="finished")
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(tmp_path / "x" / "rs"))
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for bad in ("../runs/base", "..", "runs/base", "a..b"):
        with pytest.raises(RunError, match=r"Invalid run id .*never holds '/' or '\.\.'"):
            RunStore().get(bad)
        with pytest.raises(RunError, match="Invalid run id"):
            RunStore().delete(bad)
    assert main(["runs", "delete", ".."]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "never holds '/' or '..'" in err

    elsewhere.update_status(state="queued", pid=None, launched=time.time())  # being launched: cancellable
    assert main(["runs", "cancel", "../runs/base"]) == 0
    assert capsys.readouterr().out == f"cancel requested for run base in {elsewhere.dir.resolve()}\n"
    elsewhere.update_status(state="cancelled")
    assert main(["runs", "delete", "--json", "../runs/base"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": "base", "path": str(elsewhere.dir.resolve()), "action": "delete"}
    assert not elsewhere.dir.exists() and configured.config_path.is_file()
    assert main(["runs", "delete", "base"]) == 0  # the bare id: the configured store's run
    assert capsys.readouterr().out == f"deleted run base: its folder {configured.dir.resolve()} is gone\n"
    assert not configured.dir.exists()


@pytest.fixture
def sleep_300() -> Iterator[subprocess.Popen]:
    """A live process that is no run's worker: the issue's ``sleep 300``."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def listed(root: Path, capsys) -> dict[str, dict]:
    assert main(["runs", "--root", str(root), "list", "--json"]) == 0
    return {row["run_id"]: row for row in json.loads(capsys.readouterr().out)}


def test_a_status_naming_a_live_process_that_is_not_the_worker_reads_interrupted_to_list_delete_and_resume(
    tmp_path: Path, sleep_300: subprocess.Popen, capsys
) -> None:
    root = tmp_path / "runs"
    store = RunStore(root)
    to_delete, to_resume = store.create(tiny_config(), "forged-a"), store.create(tiny_config(epochs=500), "forged-b")
    for run in (to_delete, to_resume):  # the sleep's pid and exact start time: all a status.json can say
        run.update_status(state="running", pid=sleep_300.pid, pid_create_time=psutil.Process(sleep_300.pid).create_time())
    rows = listed(root, capsys)
    assert {rows[name]["state"] for name in rows} == {"interrupted"}
    assert f"names process {sleep_300.pid}, which runs but is not the training process" in rows["forged-a"]["error"]
    assert main(["runs", "--root", str(root), "delete", "forged-a"]) == 0
    assert capsys.readouterr().out.startswith("deleted run forged-a") and not to_delete.dir.exists()
    assert main(["runs", "--root", str(root), "resume", "forged-b", "--background"]) == 0
    out = capsys.readouterr().out
    pid = int(re.fullmatch(rf"resuming run forged-b in {re.escape(str(to_resume.dir.resolve()))} \(pid (\d+)\)\n", out).group(1))
    try:  # the real worker the resume started is proved by its command line: it reads running
        wait_for(lambda: to_resume.raw_status().get("pid") == pid and to_resume.raw_status()["state"] == "running", what="worker up")
        assert listed(root, capsys)["forged-b"]["state"] == "running"
        assert main(["runs", "--root", str(root), "delete", "forged-b"]) == 2
        assert "cancel it before deleting" in capsys.readouterr().err
    finally:
        assert main(["runs", "--root", str(root), "cancel", "forged-b"]) == 0
        wait_for(lambda: to_resume.state not in ("queued", "running"), timeout=60, what="worker stopped")
    assert to_resume.state == "cancelled" and sleep_300.poll() is None  # the sleep was never signalled


def test_a_run_trained_in_this_process_reads_running_to_other_readers(tmp_path: Path, capsys) -> None:
    """A foreground train's command line is not a worker's; holding the run's lock proves it is the run's own."""
    run = RunStore(tmp_path / "runs").create(tiny_config(), "foreground")
    seen: list[str] = []

    def look(event: dict) -> None:
        if event["type"] == "epoch" and not seen:
            seen.append(Run(run.dir).state)
            seen.append(listed(run.dir.parent, capsys)["foreground"]["state"])

    assert execute(run, on_event=look).status == "finished"
    assert seen == ["running", "running"]
