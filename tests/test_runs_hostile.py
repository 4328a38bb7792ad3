"""Hostile run folders: one that cannot be written refuses every writer in one sentence (exit 2) while
the readers keep working."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import tiny_config

from cifar_core.cli import main
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
