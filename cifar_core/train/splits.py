"""Which images a run trains and validates on, reproducible from its config alone.

Training, evaluation and the app all call this, so ``evaluate --split val`` scores exactly the
images the run never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cifar_core.data import CifarData, stratified_split, stratified_subset
from cifar_core.errors import DataError
from cifar_core.train.config import TrainConfig


@dataclass(frozen=True)
class RunSplits:
    """Indices into the source's train split."""

    train: torch.Tensor
    val: torch.Tensor


def run_splits(config: TrainConfig, data: CifarData) -> RunSplits:
    """Apply the run's image limit (class-balanced) and its seeded, stratified validation split."""
    if "train" not in data.splits:
        raise DataError(f"{data.source} has no labelled train split to train on.")
    labels = data.splits["train"].labels
    seed = config.seed if config.split_seed is None else config.split_seed
    pool = torch.arange(len(labels))
    if config.limit is not None and config.limit < len(labels):
        pool = stratified_subset(labels, config.limit, seed)
    if config.train_on_full:
        return RunSplits(train=pool, val=torch.empty(0, dtype=torch.long))
    train_local, val_local = stratified_split(labels[pool], config.val_fraction, seed)
    return RunSplits(train=pool[train_local], val=pool[val_local])
