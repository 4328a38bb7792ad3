"""Hostile run folders and run ids (issue 25): a folder that cannot be written refuses every writer in one
sentence (exit 2) while the readers keep working; a run id never holds '/' or '..', so such an argument is a
path, and every message that changes a run names its full folder."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import tiny_config

from cifar_core.cli import main
from cifar_core.errors import RunError
from cifar_core.runs import RunStore


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
