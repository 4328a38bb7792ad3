"""Finished studies of real tiny runs on the synthetic set, trained in-process.

``finished_study``: a 2 x 2 grid (dropout x lr) over two seeds, eight 2-epoch runs of 160 images,
trained once per session, so results, figures and the app page are tested on real run folders.
``finished_named``: the named dropout study at a tiny size, for the Experiments page's conclusions.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from support import tiny_config

from cifar_core.device import single_thread
from cifar_core.runs.process import execute
from cifar_core.study import StudyFolder, drive, studies_root
from cifar_core.study.catalog import get_named_study
from cifar_core.study.definition import Study, plan_study

GRID = "dropout=0,0.3;lr=0.001,0.003"
# The ablation of the four study ops, as the issue names its variants: none, each alone, all but one, all.
ABLATION_VARIANTS = [
    "none",
    "rotation",
    "resized_crop",
    "translate",
    "cutmix",
    "all but rotation",
    "all but resized_crop",
    "all but translate",
    "all but cutmix",
    "all",
]


tiny_base = partial(tiny_config, epochs=2, seed=5)


def train_in_process(run, resume: bool) -> None:
    assert execute(run, resume=resume) is not None, run.log_path.read_text() if run.log_path.exists() else run.raw_status()


def finish(study: Study) -> StudyFolder:
    """``study``'s folder (under its runs root), every run trained in-process, one thread each."""
    folder = StudyFolder.create(studies_root(study.runs_root) / study.id, study)
    with single_thread():
        assert drive(folder, train_in_process) == "finished"
    return folder


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> StudyFolder:
    """The session's finished grid study; its runs root is the folder above ``studies/``."""
    return finish(plan_study(tiny_base(), tmp_path_factory.mktemp("study-runs"), grid=GRID, seeds=2))


@pytest.fixture(scope="module")
def finished_named(tmp_path_factory: pytest.TempPathFactory) -> StudyFolder:
    """The named dropout study at a tiny size (1 epoch, 200 generated images, 2 seeds)."""
    root = tmp_path_factory.mktemp("named-runs")
    return finish(get_named_study("dropout").plan(root, data="synthetic", device="cpu", epochs=1, limit=200, seeds=2))


def runs_root_of(folder: StudyFolder) -> Path:
    return folder.study().runs_root
