"""A fault soak: ``kill -9`` of the real detached worker at random moments, then resume.

``tests/test_train_recovery.py`` kills a worker at each chosen write point; this soak kills it
wherever the clock happens to be. Each cycle starts a fresh run with ``launch`` (what
``train --background`` and the app do), SIGKILLs its worker once or twice, each time after a delay
drawn from the whole life of an uninterrupted worker (imports, data load, reconcile, training steps,
checkpoint and metrics writes, the final status), resumes after each kill with
``launch(resume=True)`` (what ``runs resume`` does) and lets the last worker finish. Every cycle
must end as the uninterrupted run did: each epoch's metrics line once, equal to the reference's
and to last.pt's own record of it, every step line once, last.pt and best.pt bit for bit, the
status's best accuracy the checkpoint's, and no temp file left behind.

A cycle's delays are fractions, drawn from ``random.Random(cycle)``, of the latest uninterrupted worker's
life (a machine that speeds up or slows down keeps the kills inside it); every assert names the cycle, its delays
and where each kill landed, so a failing cycle can be read and rerun. CI runs 3 cycles (about
55 s on two busy cores, load average near 5); ``--runslow`` runs the issue's 50.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
import pytest
import torch
from support import tiny_config

from cifar_core.runs import RunStore, load_checkpoint
from cifar_core.runs.process import launch
from cifar_core.runs.procfolder import WORKER
from cifar_core.runs.store import Run

# Dropout, augmentation and CutMix draw from every generator the checkpoint restores;
# 256 training images in batches of 32: 8 steps an epoch, a step line every 3.
SOAK_CONFIG = tiny_config(epochs=3, batch_size=32, limit=320, lr=3e-3, aug_p=0.3, mix_p=0.3, dropout=0.2, log_every=3)
EPOCH_FIELDS = ("epoch", "epoch_fraction", "train_loss", "train_acc", "val_loss", "val_acc", "confusion", "lr")
STEP_FIELDS = ("epoch", "step", "global_step", "train_loss", "lr")
KILLS_PER_CYCLE = (1, 2)  # the second kill lands on a resumed worker: a resume must survive its own kill
WORKER_TIMEOUT_S = 300.0


@dataclass
class Reference:
    run: Run
    seconds: float  # launch to exit of an uninterrupted worker: the range kill delays are drawn from


@dataclass
class Cycle:
    """One cycle's draw and what became of it, for the assert messages."""

    number: int
    fractions: list[float]  # of a worker's life, drawn from random.Random(number)
    life: float  # seconds: the latest uninterrupted worker's life, so a machine that speeds up or slows down keeps the kills inside
    landed: list[str] = field(default_factory=list)

    @property
    def delays(self) -> list[float]:
        return [fraction * self.life for fraction in self.fractions]

    def __str__(self) -> str:
        kills = ", ".join(
            f"{delay:.2f} s ({fraction:.2f} of {self.life:.1f} s) -> {where}"
            for delay, fraction, where in zip(self.delays, self.fractions, self.landed)
        )
        return f"cycle {self.number} (random.Random({self.number})): kills {kills or 'none'}"


def _wait_gone(pid: int, what: str) -> None:
    """Wait for worker ``pid`` (our child) to exit, reaping it."""
    with contextlib.suppress(psutil.NoSuchProcess):
        try:
            psutil.Process(pid).wait(WORKER_TIMEOUT_S)
        except psutil.TimeoutExpired:
            raise AssertionError(f"{what}: worker {pid} still runs after {WORKER_TIMEOUT_S:g} s") from None


def _sessions(run: Run) -> int:
    """How many workers got as far as their launch or resume event (after data load and reconcile)."""
    return sum(e["type"] in ("launch", "resume") for e in run.events())


def _moment(run: Run, pid: int, sessions_before: int) -> str:
    """Where the worker stood when it was killed, read from what it had written."""
    status = run.raw_status()
    if status.get("pid") != pid:
        return "importing"
    if status["state"] == "finished":
        return "after the final status"
    events = run.events()
    if _sessions(run) == sessions_before:
        return "loading data / reconciling"
    last = events[-1]
    if last["type"] == "step":
        edge = " (validation, checkpoint writes)" if last["step"] == last["epoch_steps"] else ""
        return f"epoch {last['epoch']} step {last['step']}{edge}"
    if last["type"] == "epoch":
        return f"after epoch {last['epoch']}'s line"
    return f"after the {last['type']} event"


def _kill(run: Run, pid: int, sessions_before: int) -> str | None:
    """SIGKILL worker ``pid`` if it is proved to be this run's worker; where it stood, or None if it had exited.

    The pid and start time come from status.json once the worker has written them; before that
    (it is still importing) from the child we started, which cannot have been reused: it is not
    reaped yet.
    """
    status = run.raw_status()
    if status.get("pid") != pid:
        try:
            status = {"pid": pid, "pid_create_time": psutil.Process(pid).create_time()}
        except psutil.NoSuchProcess:
            return None
    if run.proof(status) != WORKER:
        return None
    os.kill(pid, signal.SIGKILL)
    return _moment(run, pid, sessions_before)


def _soak_cycle(root, number: int, life: float) -> tuple[Run, Cycle, float]:
    """One cycle; returns its run, its record and the life of its last (uninterrupted) worker, or ``life`` when there was none."""
    rng = random.Random(number)
    cycle = Cycle(number, [rng.random() for _ in range(rng.choice(KILLS_PER_CYCLE))], life)
    run = RunStore(root).create(SOAK_CONFIG, f"cycle-{number}")
    for kill, delay in enumerate(cycle.delays):
        if run.raw_status()["state"] == "finished":
            break  # the previous kill came after the final status: nothing is left to resume
        sessions = _sessions(run)
        pid = launch(run, resume=kill > 0)
        time.sleep(delay)
        where = _kill(run, pid, sessions)
        _wait_gone(pid, str(cycle))
        cycle.landed.append(where or "missed (no live worker to prove)")
        if where is not None and where != "after the final status":
            # the liveness proof sees the kill; a worker killed before writing its pid reads queued for LAUNCH_GRACE_S
            expected = "queued" if where == "importing" else "interrupted"
            assert run.state == expected, f"{cycle}: {run.status()}"
    if run.raw_status()["state"] != "finished":
        began = time.monotonic()
        _wait_gone(launch(run, resume=True), str(cycle))
        life = time.monotonic() - began
    return run, cycle, life


def _assert_same_run(run: Run, reference: Run, cycle: Cycle) -> None:
    why = f"{cycle}\n{run.log_path.read_text(errors='replace')[-3000:]}"
    status = run.status()
    assert status["state"] == "finished", f"{why}\n{status}"
    epochs, expected = run.events("epoch"), reference.events("epoch")
    assert [e["epoch"] for e in epochs] == list(range(1, SOAK_CONFIG.epochs + 1)), why  # each epoch once, none lost
    for got, want in zip(epochs, expected):
        assert {k: got[k] for k in EPOCH_FIELDS} == {k: want[k] for k in EPOCH_FIELDS}, f"{why}\nepoch {got['epoch']}"
    steps = [[e[k] for k in STEP_FIELDS] for e in run.events("step")]
    assert steps == [[e[k] for k in STEP_FIELDS] for e in reference.events("step")], why  # each logged step once
    last, best = load_checkpoint(run.checkpoint_path("last")), load_checkpoint(run.checkpoint_path("best"))
    assert last["history"] == epochs, why  # the metrics are the checkpoint's own records, whole
    for which, mine in (("last", last), ("best", best)):
        theirs = load_checkpoint(reference.checkpoint_path(which))
        assert mine["epoch"] == theirs["epoch"], f"{why}\n{which}.pt"
        assert mine["model"].keys() == theirs["model"].keys(), f"{why}\n{which}.pt"
        assert all(torch.equal(mine["model"][name], value) for name, value in theirs["model"].items()), f"{why}\n{which}.pt weights"
    top = max(e["val_acc"] for e in epochs)
    assert status["best_val_acc"] == best["best_val_acc"] == last["best_val_acc"] == top, f"{why}\n{status}"
    assert run.summary()["error"] is None, why  # no damaged metrics line either
    assert not [p.relative_to(run.dir) for p in run.dir.rglob("*.tmp")], why  # no half-written file left behind


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """An uninterrupted detached worker's run, and how long that worker lived.

    Every worker of this module runs on one thread (OMP_NUM_THREADS=1, inherited by the detached
    workers): the same kernels in every process give the same bits, and two workers cannot fight
    over the two cores of CI.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OMP_NUM_THREADS", "1")
        run = RunStore(tmp_path_factory.mktemp("straight")).create(SOAK_CONFIG, "straight")
        began = time.monotonic()
        _wait_gone(launch(run), "the uninterrupted run")
        assert run.state == "finished", run.log_path.read_text()
        yield Reference(run, time.monotonic() - began)


@pytest.mark.parametrize("cycles", [3, pytest.param(50, marks=pytest.mark.slow)])
def test_kill_9_at_random_moments_then_resume_ends_as_the_uninterrupted_run(tmp_path, uninterrupted, cycles):
    moments, life = Counter(), uninterrupted.seconds
    for number in range(cycles):
        run, cycle, life = _soak_cycle(tmp_path, number, life)
        _assert_same_run(run, uninterrupted.run, cycle)
        moments.update(re.sub(r"\d+", "N", where) for where in cycle.landed)
        print(cycle)
    print(f"an uninterrupted worker lives {uninterrupted.seconds:.1f} s; where the kills landed: {dict(moments)}")
    assert sum(n for where, n in moments.items() if not where.startswith("missed")), f"no kill landed, so nothing was tested: {moments}"
