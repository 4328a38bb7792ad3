"""torchrun with two Gloo processes on the CPU: the run completes, both ranks end on identical
weights, accuracy matches one process with the same global batch, a resume is exact, and a world
with a rank missing is one sentence that leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cifar_core.runs import Run

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [
    "train",
    "--data",
    "synthetic",
    "--model",
    "fast_cnn",
    "--model-option",
    "widths=[32,64,64]",
    "--optimizer",
    "adam",
    "--lr",
    "0.003",
    "--limit",
    "1000",
    "--epochs",
    "6",
    "--batch-size",
    "128",
    "--device",
    "cpu",
]
# How far a two-process run's final val accuracy may sit from one process's (same seed, same
# global batch), from measured spread. TRAIN, seeds 0-4, final val accuracy (200 images):
#   one process   1.0, 1.0, 1.0, 1.0, 1.0    (val loss 0.54, 0.51, 0.44, 0.54, 0.61)
#   two processes 0.995, 1.0, 1.0, 1.0, 1.0  (val loss 0.50, 0.51, 0.50, 0.51, 0.62)
# so both are another draw from the same spread (BatchNorm is per rank, 64 images each on a CPU,
# and augmentation draws are per rank). On this set errors come a class at a time: a class not yet
# told from its neighbouring hue costs its 20 images (0.1). The former recipe (SGD at lr 0.2, widths
# 16/32/32) stopped mid-way through that, one process spanning 0.63-0.995 over seeds 0-5 (two:
# 0.48-0.875), so one seed each could not tell noise from a fault: its 0.82 vs 0.995 at seed 0 was
# such a draw (it was 0.95 vs 1.0 only until a CutMix partner change moved one image of rank 0's
# first batch). 0.03 is six images: six times the spread measured here, a third of one class.
SEED_SPREAD = 0.03
DIGEST = re.compile(r"rank (\d)/2: final weights sha256 ([0-9a-f]{64})")


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def _torchrun(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "cifar_core",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(**env), cwd=ROOT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _digests(output: str) -> dict[int, str]:
    return {int(rank): digest for rank, digest in DIGEST.findall(output)}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[int, str]]:
    out = tmp_path_factory.mktemp("ddp") / "ddp-run"
    done = _torchrun(*TRAIN, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return Run(out), _digests(done.stderr + done.stdout)


def test_two_ranks_finish_with_identical_weights(ddp_run: tuple[Run, dict[int, str]]) -> None:
    run, digests = ddp_run
    assert run.state == "finished"
    assert sorted(digests) == [0, 1] and digests[0] == digests[1]
    start = run.events("start")[0]
    assert start["world_size"] == 2 and start["n_train"] == 800
    assert [event["epoch"] for event in run.events("epoch")] == [1, 2, 3, 4, 5, 6]
    assert not list(run.dir.glob("*rank1*"))  # only rank 0 writes


def test_accuracy_matches_one_process_with_the_same_global_batch(ddp_run, tmp_path: Path) -> None:
    run, _ = ddp_run
    single = tmp_path / "single"
    done = subprocess.run(
        [sys.executable, "-m", "cifar_core", *TRAIN, "--out", str(single), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ddp_acc = run.events("epoch")[-1]["val_acc"]
    single_acc = Run(single).events("epoch")[-1]["val_acc"]
    assert single_acc >= 0.95  # the recipe converged here, so the comparison means something
    assert abs(ddp_acc - single_acc) <= SEED_SPREAD, (ddp_acc, single_acc)


def test_cancel_and_resume_under_torchrun_is_exact(ddp_run, tmp_path: Path) -> None:
    _, uninterrupted = ddp_run
    out = tmp_path / "resumed"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "cifar_core",
        *TRAIN,
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), cwd=ROOT)
    deadline = time.time() + 240
    while time.time() < deadline:
        metrics = out / "metrics.jsonl"
        if (
            metrics.is_file()
            and sum(json.loads(line).get("type") == "epoch" for line in metrics.read_text().splitlines() if line.strip()) >= 2
        ):
            (out / "cancel.request").write_text("test")
            break
        time.sleep(0.05)
    process.communicate(timeout=240)
    run = Run(out)
    assert run.state == "cancelled" and 2 <= len(run.events("epoch")) < 6
    done = _torchrun(*TRAIN, "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert run.state == "finished"
    assert _digests(done.stderr + done.stdout) == uninterrupted  # bit-exact on both ranks


def test_a_missing_rank_is_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never"
    env = _env(
        WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), CIFAR_EXPLORER_DIST_TIMEOUT_S="5"
    )
    done = subprocess.run(
        [sys.executable, "-m", "cifar_core", *TRAIN, "--out", str(out)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert done.returncode == 2
    assert "could not reach the other ranks within 5 s" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_sync_bn_on_cpu_ranks_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = _torchrun(*TRAIN, "--sync-bn", "--out", str(tmp_path / "sync"))
    assert done.returncode != 0 and "Synchronised BatchNorm needs GPUs" in done.stderr
    assert not (tmp_path / "sync").exists()
