"""Ctrl-C on a foreground ``train``: status.json says ``interrupted``, one sentence says how to go
on, and ``runs resume RUN`` finishes the run in the foreground (or detached, with ``--background``)
with the weights of a run that was never stopped, bit for bit.

Every run here is a real ``python -m cifar_core`` process, as a terminal starts it; SIGINT is what
Ctrl-C sends to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support import assert_same_run, cli_args, wait_for

from cifar_core.runs import load_checkpoint
from cifar_core.runs.store import ACTIVE_STATES, Run

PROJECT = Path(__file__).resolve().parents[1]
# dropout, augmentation and CutMix draw from every generator the checkpoint restores; 8 steps an epoch
FLAGS = {
    "data": "synthetic",
    "epochs": 3,
    "batch_size": 32,
    "limit": 320,
    "lr": 3e-3,
    "aug_p": 0.3,
    "mix_p": 0.3,
    "dropout": 0.2,
    "seed": 0,
    "device": "cpu",
    "log_every": 2,
}
# One thread in every process (a background worker inherits it): the same kernels, so the same bits.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cifar_core", *args], cwd=PROJECT, env=ENV, capture_output=True, text=True, timeout=600)


def _sigint_as_a_terminal_has_it() -> None:
    """A child inherits an ignored SIGINT from a parent started in the background, and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_after_the_first_epoch(out: Path) -> tuple[Run, int, str]:
    """A foreground ``train --out out`` sent SIGINT once its first epoch is written: (run, exit code, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cifar_core", *cli_args("train", **FLAGS, out=out)],
        cwd=PROJECT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_a_terminal_has_it,
    )
    run = Run(out)
    try:
        wait_for(lambda: process.poll() is not None or run.events("epoch"), timeout=300, interval=0.02, what="the first epoch")
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return run, process.returncode, err


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("straight") / "runs" / "straight"
    result = cli(*cli_args("train", **FLAGS, out=out))
    assert result.returncode == 0, result.stderr
    return Run(out)


def test_ctrl_c_leaves_the_run_interrupted_and_runs_resume_finishes_it_in_the_foreground(tmp_path, straight):
    run, code, err = interrupt_after_the_first_epoch(tmp_path / "runs" / "ctrl-c")
    status = json.loads(run.status_path.read_text())
    done = load_checkpoint(run.checkpoint_path("last"))["epoch"]
    # 130, or killed by the SIGINT itself (-2; seen once on a loaded 2-core CI run after the sentence was
    # printed and the status written): a shell reports both as 130
    assert code in (130, -signal.SIGINT), err
    assert status["state"] == "interrupted" and status["error"] == "stopped by Ctrl-C (SIGINT)", err
    assert run.state == "interrupted" and 1 <= done < 3
    assert err.strip().splitlines()[-1] == (
        f"interrupted: run ctrl-c stopped after {done} of 3 epochs; "
        f"go on with `python3 -m cifar_core runs resume {run.dir.resolve()}` (add --background to detach)."
    )
    assert err.count("runs resume") == 1

    resumed = cli("runs", "resume", str(run.dir))
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1].startswith("ctrl-c: finished, 3/3 epochs, best val_acc")
    assert [e["epoch"] for e in run.events() if e["type"] == "resume"] == [done]
    assert_same_run(run, straight)


def test_runs_resume_background_detaches_and_its_worker_finishes_the_run(tmp_path, straight):
    run, code, _ = interrupt_after_the_first_epoch(tmp_path / "runs" / "detached")
    assert code == 130 and run.raw_status()["state"] == "interrupted"

    answer = cli("runs", "resume", str(run.dir), "--background", "--json")
    assert answer.returncode == 0, answer.stderr
    reply = json.loads(answer.stdout)
    assert (reply["action"], reply["path"]) == ("resume", str(run.dir.resolve()))
    pid = reply["pid"]  # the command has returned; its worker trains on, in a session of its own
    assert os.getsid(pid) == pid
    assert psutil.Process(pid).cmdline()[-6:] == ["-m", "cifar_core", "runs", "worker", str(run.dir.resolve()), "--resume"]
    wait_for(lambda: run.state not in ACTIVE_STATES, timeout=300, what="the detached worker's end")
    assert_same_run(run, straight)
