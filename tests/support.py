"""What every test file may use, registered once from ``conftest.py`` (``pytest_plugins``).

- ``tiny_config(**overrides)``: a run that trains in seconds on the synthetic set on the CPU. A
  test file that needs other defaults binds them once, e.g.
  ``tiny_config = partial(support.tiny_config, lr=3e-3)``; a call's own overrides still win.
- ``wait_for(predicate, timeout, interval)``: poll until ``predicate()`` is truthy and return that
  value, or fail the test with how long it waited. Exceptions inside ``predicate`` end the wait.
- ``cli_args(command, **flags)``: a CLI command line, ``batch_size=64`` as ``--batch-size 64``.
- ``assert_same_run(run, straight)``: a run interrupted and resumed ended as the uninterrupted
  ``straight`` did: each epoch once with its numbers, last.pt and best.pt its weights bit for bit.
- ``standing_in(*folders)``: this process stands in for the workers of run or study folders, proved
  theirs as an in-process driver is (it holds their locks); yields the status fields naming it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psutil

from cifar_core.runs.checkpoint import load_checkpoint
from cifar_core.runs.procfolder import ProcessFolder
from cifar_core.train import TrainConfig

T = TypeVar("T")

# What a resumed run must reproduce exactly in each epoch's metrics line (wall times are left out).
DETERMINISTIC = ("epoch", "epoch_fraction", "train_loss", "train_acc", "val_loss", "val_acc", "confusion", "lr")

# 200 synthetic images (160 train / 40 validation), batch 64: 3 steps an epoch.
TINY: dict[str, Any] = {"data": "synthetic", "epochs": 1, "batch_size": 64, "limit": 200, "seed": 0, "device": "cpu", "log_every": 2}


def tiny_config(**overrides: Any) -> TrainConfig:
    """A seconds-long run on the synthetic set (``TINY``), with ``overrides``."""
    return TrainConfig(**{**TINY, **overrides})


def wait_for(predicate: Callable[[], T], timeout: float = 120.0, interval: float = 0.1, what: str = "condition") -> T:
    """``predicate()``'s first truthy value, polled every ``interval`` s; an ``AssertionError``
    naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout:g} s")
        time.sleep(interval)


def cli_args(command: str, **flags: Any) -> list[str]:
    """``command`` with ``flags`` as the CLI spells them: ``--name value``, or ``--name`` alone for ``True``."""
    args = [command]
    for name, value in flags.items():
        args.append("--" + name.replace("_", "-"))
        if value is not True:
            args.append(str(value))
    return args


@contextlib.contextmanager
def standing_in(*folders: ProcessFolder) -> Iterator[dict[str, Any]]:
    """Hold the locks of ``folders`` and yield ``{"pid": ..., "pid_create_time": ...}`` naming this process.

    A status.json naming a live process reads as active only when that process is the folder's own
    (``ProcessFolder.proof``): a test that writes this process into status.json must hold the
    folder's lock, as every process that drives a folder does, or the folder reads interrupted.
    """
    me = psutil.Process()
    with contextlib.ExitStack() as locks:
        for folder in folders:
            lock = folder.try_lock()
            assert lock is not None, f"{folder.dir} is locked by another process"
            locks.enter_context(lock)
        yield {"pid": me.pid, "pid_create_time": me.create_time()}


def assert_same_run(run: Any, straight: Any) -> None:
    """Each epoch once, with the uninterrupted run's numbers; last.pt and best.pt its weights bit for bit."""
    import torch

    epochs, expected = run.events("epoch"), straight.events("epoch")
    assert [e["epoch"] for e in epochs] == [e["epoch"] for e in expected] == list(range(1, len(expected) + 1))  # none lost
    for got, want in zip(epochs, expected):
        assert {k: got.get(k) for k in DETERMINISTIC} == {k: want.get(k) for k in DETERMINISTIC}
    for which in ("last", "best"):
        mine, theirs = load_checkpoint(run.checkpoint_path(which)), load_checkpoint(straight.checkpoint_path(which))
        assert mine["epoch"] == theirs["epoch"], which
        assert all(torch.equal(mine["model"][name], value) for name, value in theirs["model"].items()), which
    status = run.status()
    best = max(e["val_acc"] for e in epochs)
    assert status["state"] == "finished" and status["error"] is None and status["best_val_acc"] == best
    assert load_checkpoint(run.checkpoint_path("best"))["best_val_acc"] == best
