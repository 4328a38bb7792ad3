"""Cached loading of datasets, trained models and their evaluations.

A dataset is decoded once per process and shared by every session (``cache_resource``: the
tensors are read-only, so no copy is needed). Models and evaluations are keyed by the checkpoint
file's modification time, so a run that writes a better ``best.pt`` is picked up on the next
rerun rather than served stale from the cache. Evaluations are cached by hand rather than with
``cache_resource``, because scoring feeds a progress bar and Streamlit would replay a cached
function's elements on every later hit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from cifar_core.data import CifarData, load_cifar
from cifar_core.errors import CheckpointError
from cifar_core.evaluate import Evaluation, LoadedModel, evaluate, load_run_model, source_split_images, split_images
from cifar_core.models.inference import ImageProgress
from cifar_core.runs import Run, RunStore
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors


@st.cache_resource(show_spinner="Loading the dataset (decoded once, then cached)…", max_entries=4)
def load_data(source: str | None) -> CifarData:
    """``load_cifar(source)``, once per source for the whole app."""
    return load_cifar(source)


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
    split: str
    """The split of ``data`` that ``evaluation.indices`` point into (a run's val images lie in ``train``)."""


SCORES_KEPT = 8


class _Scores:
    """The last few evaluations, shared by every session (each is a few MB of probabilities)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple, ScoredSplit] = OrderedDict()

    def get(self, key: tuple) -> ScoredSplit | None:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
            return self.entries.get(key)

    def put(self, key: tuple, scored: ScoredSplit) -> None:
        with self.lock:
            self.entries[key] = scored
            while len(self.entries) > SCORES_KEPT:
                self.entries.popitem(last=False)


@st.cache_resource
def _scores() -> _Scores:
    return _Scores()


def scored_before(run_dir: str, which: str, stamp: int, source: str | None, split: str, tta: str = "none") -> bool:
    """Whether ``score_split`` with these arguments answers from its cache, without computing."""
    return _scores().get((run_dir, which, stamp, source, split, tta)) is not None


def score_split(
    run_dir: str, which: str, stamp: int, source: str | None, split: str, tta: str = "none", *, progress: ImageProgress | None = None
) -> ScoredSplit:
    """Predictions of the run's model on some labelled images, computed once per checkpoint version.

    ``source`` None means the run's own source, where ``split`` is ``val`` (the images the run
    held out) or ``test``; any other source is scored on the whole of its labelled ``split``.
    """
    key = (run_dir, which, stamp, source, split, tta)
    if (scored := _scores().get(key)) is not None:
        return scored
    loaded = load_model(run_dir, which, stamp)
    if source is None:
        data = load_data(loaded.config.data)
        images, labels, indices = split_images(loaded.config, data, split)
        where = "test" if split == "test" else "train"
    else:
        data = load_data(source)
        images, labels, indices = source_split_images(data, split)
        where = split
    scored = ScoredSplit(evaluate(loaded, images, labels, indices, tta=tta, progress=progress), images, data, where)
    _scores().put(key, scored)
    return scored


def selected_run_or_stop(store: RunStore) -> Run:
    """The sidebar's selected run, or one sentence and the end of this page's script (no run, or a bad id)."""
    run_id = state.selected_run_id()
    run = None
    with user_errors():
        run = store.get(run_id) if run_id else None
    if run is None:
        st.info("No run selected: train one on the Train page, then pick it in the sidebar.")
        st.stop()
    return run
