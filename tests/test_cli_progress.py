"""Long commands show progress on stderr: a bar a person at a terminal sees, hidden under ``--json`` into a
pipe, and never on stdout, which under ``--json`` holds exactly one JSON document."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import tiny_config

from cifar_core.cli import main

PROJECT = Path(__file__).resolve().parents[1]
BAR = re.compile(r"\d+%\|")  # tqdm's "NN%|" before the bar itself


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two finished tiny runs (seeds 0 and 1) and a folder of four unlabelled images."""
    from cifar_core import train_model

    root = tmp_path_factory.mktemp("progress")
    for seed in (0, 1):
        train_model(tiny_config(seed=seed), out=root / f"run-{seed}")
    images = root / "unlabelled"
    images.mkdir()
    rng = np.random.default_rng(0)
    for image_id in range(1, 5):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(images / f"{image_id}.png")
    return {"a": root / "run-0", "b": root / "run-1", "images": images, "root": root}


# command -> (its arguments, what its finished bar shows); synthetic: 40 validation and 200 test images a run
COMMANDS: dict[str, tuple[Callable[[dict[str, Path], Path], list[str]], str]] = {
    "evaluate": (lambda r, tmp: ["evaluate", "--run", str(r["a"]), "--split", "val", "--device", "cpu"], r"evaluate: 100%\|.* 40/40"),
    "predict": (
        lambda r, tmp: ["predict", "--run", str(r["a"]), "--images", str(r["images"]), "--out", str(tmp / "s.csv"), "--device", "cpu"],
        r"predict: 4img",
    ),
    "robustness": (
        lambda r, tmp: ["robustness", "--run", str(r["a"]), "--data", "synthetic", "--transforms", "rotate", "--device", "cpu"],
        r"robustness: 100%\|.* 3/3",
    ),
    "compare": (
        lambda r, tmp: ["compare", "--run", str(r["a"]), "--run", str(r["b"]), "--resamples", "200", "--device", "cpu"],
        r"compare: 100%\|.* 400/400",
    ),
}


def with_terminal_stderr(args: list[str], timeout: float = 300) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the CLI with stdout a pipe and stderr a 120-column pseudo-terminal."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cifar_core", *args], cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=follower, text=True
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # a full terminal buffer would block the command
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the command's end of the terminal is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        reader.join(timeout=10)
        os.close(leader)
    return process.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def one_json_document(out: str) -> dict:
    assert out.count("\n") == 1 and out.endswith("\n"), out[:500]
    return json.loads(out)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_terminal_sees_the_bar_while_stdout_holds_one_json_document(command: str, runs: dict[str, Path], tmp_path: Path) -> None:
    build, finished = COMMANDS[command]
    code, out, err = with_terminal_stderr([*build(runs, tmp_path), "--json"])
    assert code == 0, err[-2000:]
    one_json_document(out)
    assert re.search(finished, err), err[-2000:]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_pipe_gets_the_bar_without_json_and_nothing_with_it(
    command: str, runs: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    build, finished = COMMANDS[command]
    assert main(build(runs, tmp_path)) == 0
    out, err = capfd.readouterr()
    assert re.search(finished, err) and not BAR.search(out)  # the bar on stderr, the result alone on stdout
    assert main([*build(runs, tmp_path), "--json"]) == 0
    out, err = capfd.readouterr()
    one_json_document(out)
    assert err == ""


STUDY = ["study", "--ablate", "translate", "--data", "synthetic", "--limit", "200", "--epochs", "1", "--batch-size", "64"]
STUDY += ["--device", "cpu", "--log-every", "1"]  # 3 steps a run, each one heard


def test_a_study_shows_its_runs_and_each_runs_steps_on_a_terminal(tmp_path: Path) -> None:
    code, out, err = with_terminal_stderr([*STUDY, "--runs-root", str(tmp_path), "--json"])
    assert code == 0, err[-2000:]
    report = one_json_document(out)
    assert report["state"] == "finished" and [row["runs_finished"] for row in report["variants"]] == [1, 1]
    assert "[1/2] none, seed 0" in err and "[2/2] translate, seed 0" in err
    assert re.search(r"study: 100%\|.*\| 2\.0/2 runs \[", err)  # the study's bar, at its end
    assert re.search(r"translate, seed 0: +\d+%\|.*\| \d/3 ", err)  # the run's own bar over its 3 steps
    # a third of the way through the first run, the study's bar already has an estimate of the time left
    assert re.search(r"study: +17%\|.*\| 0\.3/2 runs \[\d\d:\d\d<\d\d:\d\d\]", err)


def test_a_study_into_a_pipe_with_json_keeps_its_lines_and_hides_its_bars(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main([*STUDY, "--runs-root", str(tmp_path), "--json"]) == 0
    out, err = capfd.readouterr()
    assert one_json_document(out)["state"] == "finished"
    assert "[2/2] translate, seed 0" in err and "    epoch 1: train_acc" in err and not BAR.search(err)
