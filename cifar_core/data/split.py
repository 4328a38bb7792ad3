"""Deterministic, class-stratified index selection: validation splits and ``--limit`` subsets."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from cifar_core.data.types import UNLABELLED
from cifar_core.errors import ConfigError


def _labels_array(labels: torch.Tensor) -> np.ndarray:
    array = labels.detach().cpu().numpy().astype(np.int64, copy=False)
    if (array == UNLABELLED).any():
        raise ConfigError("cannot stratify unlabelled samples (label -1); use a labelled split")
    return array


def _sorted_indices(indices: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.sort(indices).astype(np.int64))


def stratified_split(
    labels: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split sample indices into (train, validation), keeping each class's share in both.

    Returns sorted int64 index tensors; the same labels, fraction and seed give the same split.
    ``val_fraction == 0`` keeps everything for training and returns an empty validation set.
    """
    array = _labels_array(labels)
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"validation fraction must be in [0, 1), got {val_fraction}")
    everything = np.arange(len(array))
    if val_fraction == 0.0:
        return _sorted_indices(everything), torch.empty(0, dtype=torch.int64)
    try:
        train_idx, val_idx = train_test_split(
            everything, test_size=val_fraction, stratify=array, random_state=seed, shuffle=True
        )
    except ValueError as exc:
        raise ConfigError(
            f"cannot make a stratified validation split of {val_fraction:g} from {len(array)} "
            f"samples: {exc}"
        ) from exc
    return _sorted_indices(train_idx), _sorted_indices(val_idx)


def stratified_subset(labels: torch.Tensor, limit: int, seed: int) -> torch.Tensor:
    """Sorted indices of a class-balanced random subset of ``limit`` samples.

    Each class gets ``limit // n_classes`` samples (a class with fewer gives all it has, the
    rest going to the others), the remainder going to randomly chosen classes, so a quick
    ``--limit`` run still sees every class equally often.
    """
    array = _labels_array(labels)
    if limit <= 0:
        raise ConfigError(f"the sample limit must be positive, got {limit}")
    if limit >= len(array):
        return _sorted_indices(np.arange(len(array)))
    rng = np.random.default_rng(seed)
    classes = np.unique(array)
    pools = [rng.permutation(np.flatnonzero(array == value)) for value in classes]
    quota = np.zeros(len(classes), dtype=np.int64)
    remaining = limit
    while remaining:
        open_classes = np.array([i for i, pool in enumerate(pools) if quota[i] < len(pool)])
        share, extra = divmod(remaining, len(open_classes))
        grants = np.full(len(open_classes), share)
        grants[rng.choice(len(open_classes), size=extra, replace=False)] += 1
        for i, grant in zip(open_classes, grants, strict=True):
            granted = min(int(grant), len(pools[i]) - int(quota[i]))
            quota[i] += granted
            remaining -= granted
    chosen = np.concatenate([pool[:count] for pool, count in zip(pools, quota, strict=True)])
    return _sorted_indices(chosen)
