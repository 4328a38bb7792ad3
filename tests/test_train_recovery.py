"""Metrics and checkpoints agree after any crash point (``reconcile`` brings them in line on resume).

A worker subprocess trains a tiny run and dies (``os._exit``, as under kill -9) at one write point
of an epoch, or fails on a full disk; ``execute(resume=True)``, what the ``runs resume`` worker
runs, then finishes it. Afterwards every epoch is in metrics.jsonl exactly once with the values
of an uninterrupted run, last.pt and best.pt hold that run's weights bit for bit, and the status
agrees with both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import assert_same_run

from cifar_core.device import single_thread
from cifar_core.runs import RunStore, load_checkpoint
from cifar_core.runs.process import execute
from cifar_core.runs.recovery import reconcile
from cifar_core.train import TrainConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRASHED = 86
# dropout, augmentation and CutMix draw from every generator the checkpoint restores
CONFIG = TrainConfig(
    data="synthetic", epochs=3, batch_size=32, lr=3e-3, limit=400, seed=0, device="cpu", log_every=2, aug_p=0.3, mix_p=0.3, dropout=0.2
)

# Runs a worker with its checkpoint and metrics sinks wrapped so it dies at one named point of
# epoch EPOCH: after_{last,best,metrics} (the write landed), mid_{last,best,metrics} (half of it
# did), or full_best (the disk is full while best.pt is written: the run fails with a sentence).
WORKER = r"""
import errno, io, json, os, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from cifar_core.runs import process
from cifar_core.runs.store import Run

run_dir, point, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
real_save, real_append, real_torch_save = process.save_checkpoint, Run.append_event, torch.save

def save(path, payload):
    which = Path(path).stem
    if payload["epoch"] == epoch and point in (f"mid_{which}", f"full_{which}"):
        def broken(obj, handle):
            buffer = io.BytesIO()
            real_torch_save(obj, buffer)
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            handle.flush()
            if point.startswith("mid_"):
                os._exit(86)
            raise OSError(errno.ENOSPC, "No space left on device")
        torch.save = broken
    try:
        real_save(path, payload)
    finally:
        torch.save = real_torch_save
    if payload["epoch"] == epoch and point == f"after_{which}":
        os._exit(86)

def append(self, event):
    ours = event.get("type") == "epoch" and event["epoch"] == epoch
    if ours and point == "mid_metrics":
        line = json.dumps(event)
        with open(self.metrics_path, "a") as handle:
            handle.write(line[: len(line) // 2])
        os._exit(86)
    real_append(self, event)
    if ours and point == "after_metrics":
        os._exit(86)

process.save_checkpoint = save
Run.append_event = append
process.execute(Run(Path(run_dir)))
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = RunStore(tmp_path_factory.mktemp("straight")).create(CONFIG, "straight")
    with single_thread():  # the crashed worker runs on one thread too: same kernels, same bits
        assert execute(run).status == "finished"
    return run


def _improved_epochs(run) -> list[int]:
    best, improved = None, []
    for event in run.events("epoch"):
        if best is None or event["val_acc"] > best:
            best = event["val_acc"]
            improved.append(event["epoch"])
    return improved


def _crash(run, point: str, epoch: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-c", WORKER, str(run.dir), point, str(epoch)], env=env, capture_output=True, text=True, timeout=600
    )


# CI kills at one point of each kind (between writes, inside a checkpoint write, on a full disk);
# --runslow adds the other four, and tests/test_fault_soak.py kills at random moments
CI_POINTS = ("after_metrics", "mid_last", "full_best")


@pytest.mark.parametrize(
    "point",
    [
        pytest.param(point, marks=() if point in CI_POINTS else pytest.mark.slow)
        for point in ("after_metrics", "after_last", "after_best", "mid_last", "mid_best", "mid_metrics", "full_best")
    ],
)
def test_a_worker_killed_at_any_write_point_resumes_into_the_uninterrupted_run(tmp_path, uninterrupted, point):
    improved = [epoch for epoch in _improved_epochs(uninterrupted) if epoch >= 2]
    assert improved, "the tiny run must improve after epoch 1 for best.pt to be written again"
    epoch = improved[0]
    run = RunStore(tmp_path).create(CONFIG, "crashed")
    worker = _crash(run, point, epoch)
    if point == "full_best":
        assert worker.returncode == 0 and run.status()["state"] == "failed" and "Disk full" in run.status()["error"]
    else:
        assert worker.returncode == CRASHED, worker.stderr
        assert run.state == "interrupted"
    with single_thread():
        result = execute(run, resume=True)
    assert result is not None and result.status == "finished", run.raw_status()
    assert_same_run(run, uninterrupted)


def test_reconcile_re_writes_a_lost_epoch_line_exactly_and_drops_lines_after_the_checkpoint(tmp_path, uninterrupted):
    state = load_checkpoint(uninterrupted.checkpoint_path("last"))
    run = RunStore(tmp_path).create(CONFIG, "partial")
    lines = uninterrupted.metrics_path.read_text().splitlines()
    first_epoch_line = next(i for i, line in enumerate(lines) if '"type": "epoch"' in line)
    run.metrics_path.write_text("\n".join(lines[: first_epoch_line + 1]) + "\n")  # epochs 2 and 3 lost
    state_at_2 = {**state, "epoch": 2, "history": state["history"][:2]}
    reconcile(run, state_at_2)
    assert [e["epoch"] for e in run.events("epoch")] == [1, 2]
    assert run.events("epoch")[1] == uninterrupted.events("epoch")[1]  # re-written whole, confusion included
    reconcile(run, state_at_2)  # a second pass changes nothing
    assert [e["epoch"] for e in run.events("epoch")] == [1, 2]
    reconcile(run, {**state, "epoch": 1, "history": state["history"][:1]})  # an older checkpoint: epoch 2 will be redone
    assert [e["epoch"] for e in run.events("epoch")] == [1]
    assert all(e["epoch"] <= 1 for e in run.events("step"))
