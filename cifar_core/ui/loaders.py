"""Cached loading of datasets, trained models and their evaluations.

A dataset is decoded once per process and shared by every session (``cache_resource``: the
tensors are read-only, so no copy is needed). Models and evaluations are keyed by the checkpoint
file's modification time, so a run that writes a better ``best.pt`` is picked up on the next
rerun rather than served stale from the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from cifar_core.data import CifarData, load_cifar
from cifar_core.errors import CheckpointError
from cifar_core.evaluate import Evaluation, LoadedModel, evaluate, load_run_model, split_images
from cifar_core.runs import Run


@st.cache_resource(show_spinner="Loading the dataset (decoded once, then cached)…", max_entries=4)
def load_data(source: str | None) -> CifarData:
    """``load_cifar(source)``, once per source for the whole app."""
    return load_cifar(source)


def has_labelled_test(data: CifarData) -> bool:
    """True when the source ships a test split with labels; kept until pages call ``data.has_labels("test")``."""
    return data.has_labels("test")


def checkpoint_stamp(run: Run, which: str) -> int:
    """Modification time of the run's checkpoint (ns); a ``CheckpointError`` if it has none yet."""
    path = run.checkpoint_path(which)
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise CheckpointError(f"Run {run.id} has no {which}.pt yet: it saves one after its first epoch.") from None


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def load_model(run_dir: str, which: str, stamp: int) -> LoadedModel:
    """The run's model from ``best.pt``/``last.pt``; ``stamp`` only keys the cache."""
    return load_run_model(Run(Path(run_dir)), which)


@dataclass(frozen=True)
class ScoredSplit:
    """An evaluation together with the images it scored (the galleries show them)."""

    evaluation: Evaluation
    images: torch.Tensor
    data: CifarData


@st.cache_resource(show_spinner="Scoring the model on every image of the split…", max_entries=8)
def score_split(run_dir: str, which: str, stamp: int, split: str, tta: str = "none") -> ScoredSplit:
    """Predictions of the run's model on its ``val`` split or on the source's ``test`` split."""
    loaded = load_model(run_dir, which, stamp)
    data = load_data(loaded.config.data)
    images, labels, indices = split_images(loaded.config, data, split)
    return ScoredSplit(evaluate(loaded, images, labels, indices, tta=tta), images, data)
