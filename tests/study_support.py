"""A finished study of real tiny runs on the synthetic set, trained once per test session.

A 2 x 2 grid (dropout x lr) over two seeds: eight 2-epoch runs of 160 images, trained in-process
in a few seconds, so results, figures and the app page are tested on real run folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_core.device import single_thread
from cifar_core.runs.process import execute
from cifar_core.study import StudyFolder, drive, studies_root
from cifar_core.study.definition import plan_study
from cifar_core.train import TrainConfig

GRID = "dropout=0,0.3;lr=0.001,0.003"


def tiny_base(**changes) -> TrainConfig:
    values = {"data": "synthetic", "epochs": 2, "limit": 200, "batch_size": 64, "device": "cpu", "log_every": 2, "seed": 5}
    return TrainConfig(**{**values, **changes})


def train_in_process(run, resume: bool) -> None:
    assert execute(run, resume=resume) is not None, run.log_path.read_text() if run.log_path.exists() else run.raw_status()


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> StudyFolder:
    """The session's finished grid study; its runs root is the folder above ``studies/``."""
    root = tmp_path_factory.mktemp("study-runs")
    study = plan_study(tiny_base(), root, grid=GRID, seeds=2)
    folder = StudyFolder.create(studies_root(root) / study.id, study)
    with single_thread():
        assert drive(folder, train_in_process) == "finished"
    return folder


def runs_root_of(folder: StudyFolder) -> Path:
    return folder.study().runs_root
