"""The run the explain tests look inside: simple_cnn trained for a few epochs on the synthetic set.

Trained once per test session (into pytest's base temp folder, shared by every explain test
module) so the sanity checks see a model that has learnt the shapes, not a random one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import execute
from cifar_core.train import TrainConfig

RUN_ID = "explain-run"
CONFIG = dict(data="synthetic", epochs=3, lr=3e-3, batch_size=64, aug_p=0.0, mix_p=0.0, device="cpu", seed=0)


def trained_explain_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The session's trained run (trained on first use; the fixture folder is reused afterwards)."""
    root = tmp_path_factory.getbasetemp() / "explain-runs"
    store = RunStore(root)
    if (root / RUN_ID / "best.pt").is_file():
        return store.get(RUN_ID)
    run = store.create(TrainConfig(**CONFIG), RUN_ID)
    assert execute(run).status == "finished", run.log_path.read_text()
    assert run.events("epoch")[-1]["val_acc"] >= 0.6  # it has learnt something to explain
    return run


def copy_of(run: Run, destination: Path) -> Run:
    """A private copy of the run (tests that write caches or remove checkpoints use one)."""
    import shutil

    shutil.copytree(run.dir, destination / run.id)
    return RunStore(destination).get(run.id)
