"""The Python API: docs/api.md's example runs as written and gives real numbers, and ``import cifar_core`` stays torch-free."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"


def documented_example() -> str:
    """The one Python code block of docs/api.md."""
    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    return block


def test_the_documented_example_trains_scores_and_keeps_a_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the example's run folder is relative: runs/first
    names: dict = {}
    exec(compile(documented_example(), str(DOC), "exec"), names)
    trained, scores, probs, saved, from_folder = (names[key] for key in ("trained", "scores", "probs", "saved", "from_folder"))

    assert (trained.run, trained.status, trained.epochs_done) == (None, "finished", 2)
    val_accs = [epoch["val_acc"] for epoch in trained.history]
    assert [epoch["epoch"] for epoch in trained.history] == [1, 2] and trained.best_val_acc == max(val_accs)
    assert trained.loaded.epoch == 1 + val_accs.index(max(val_accs))  # the best epoch's weights, not the last's
    assert trained.config.data == "synthetic" and trained.model.training is False

    # synthetic test split: 20 images of each of the 10 classes
    assert scores.n == 200 and int(scores.confusion.sum()) == 200
    assert scores.accuracy == pytest.approx(int(scores.confusion.diagonal().sum()) / 200)
    assert scores.per_class()["cat"]["support"] == 20
    assert probs.shape == (8, 10) and torch.allclose(probs.sum(dim=1), torch.ones(8))

    assert saved.run.dir == tmp_path / "runs" / "first" and (saved.run.dir / "best.pt").is_file()
    assert saved.run.summary()["state"] == "finished"
    assert from_folder.n == 80  # limit 400, val_fraction 0.2
    # the same seed on the CPU trains the same weights, kept in memory or written to best.pt
    images = names["source"].splits["test"].images
    assert torch.allclose(saved.probabilities(images), trained.probabilities(images), atol=1e-5)
    assert f"test accuracy {scores.accuracy:.3f}" in capsys.readouterr().out


def test_import_is_torch_free_until_an_api_name_is_used() -> None:
    code = textwrap.dedent(
        """
        import sys
        import cifar_core
        print("before", "torch" in sys.modules, sorted(cifar_core.__all__))
        from cifar_core import train_model
        import cifar_core.api
        print("after", "torch" in sys.modules, train_model is cifar_core.api.train_model)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True)
    before, after = done.stdout.splitlines()
    assert before.startswith("before False") and "'train_model'" in before and "'evaluate_model'" in before
    assert after == "after True True"


def test_a_folder_that_is_not_a_run_is_one_sentence(tmp_path: Path) -> None:
    from cifar_core import evaluate_model
    from cifar_core.errors import CifarError

    with pytest.raises(CifarError, match="Checkpoint not found"):
        evaluate_model(tmp_path, "synthetic")
