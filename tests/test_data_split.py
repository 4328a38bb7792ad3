"""Stratified validation splits and class-balanced subsets: sizes, proportions, determinism."""

from __future__ import annotations

import pytest
import torch

from cifar_core.data import stratified_split, stratified_subset
from cifar_core.errors import ConfigError

LABELS = torch.arange(10).repeat_interleave(100)  # 100 per class
SKEWED = torch.cat([torch.zeros(500, dtype=torch.int64), torch.arange(1, 10).repeat_interleave(50)])


def test_split_sizes_and_per_class_proportions() -> None:
    train, val = stratified_split(LABELS, 0.2, seed=0)
    assert train.dtype == val.dtype == torch.int64
    assert len(train) == 800 and len(val) == 200
    assert torch.bincount(LABELS[val]).tolist() == [20] * 10
    assert torch.equal(torch.sort(torch.cat([train, val])).values, torch.arange(1000))
    assert torch.equal(train, torch.sort(train).values) and torch.equal(val, torch.sort(val).values)


def test_split_keeps_skewed_proportions() -> None:
    _, val = stratified_split(SKEWED, 0.1, seed=3)
    assert torch.bincount(SKEWED[val]).tolist() == [50] + [5] * 9


def test_split_is_deterministic_per_seed() -> None:
    first = stratified_split(LABELS, 0.1, seed=7)
    again = stratified_split(LABELS, 0.1, seed=7)
    other = stratified_split(LABELS, 0.1, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[1], other[1])


def test_zero_fraction_keeps_everything_for_training() -> None:
    train, val = stratified_split(LABELS, 0.0, seed=0)
    assert torch.equal(train, torch.arange(1000)) and val.numel() == 0 and val.dtype == torch.int64


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_rejects_bad_fractions(fraction: float) -> None:
    with pytest.raises(ConfigError, match="validation fraction must be in"):
        stratified_split(LABELS, fraction, seed=0)


def test_split_too_small_to_stratify() -> None:
    with pytest.raises(ConfigError, match="cannot make a stratified validation split"):
        stratified_split(torch.arange(10), 0.5, seed=0)


def test_split_rejects_unlabelled() -> None:
    with pytest.raises(ConfigError, match="unlabelled"):
        stratified_split(torch.full((20,), -1), 0.5, seed=0)


def test_subset_is_balanced_sorted_and_deterministic() -> None:
    subset = stratified_subset(LABELS, 105, seed=1)
    assert subset.dtype == torch.int64 and len(subset) == 105 and len(set(subset.tolist())) == 105
    assert torch.equal(subset, torch.sort(subset).values)
    counts = torch.bincount(LABELS[subset], minlength=10)
    assert counts.min() == 10 and counts.max() == 11
    assert torch.equal(subset, stratified_subset(LABELS, 105, seed=1))
    assert not torch.equal(subset, stratified_subset(LABELS, 105, seed=2))


def test_subset_gives_rare_classes_all_they_have() -> None:
    labels = torch.cat([torch.zeros(100, dtype=torch.int64), torch.ones(3, dtype=torch.int64)])
    counts = torch.bincount(labels[stratified_subset(labels, 20, seed=0)]).tolist()
    assert counts == [17, 3]


def test_subset_larger_than_data_returns_everything() -> None:
    assert torch.equal(stratified_subset(LABELS, 5000, seed=0), torch.arange(1000))


def test_subset_rejects_non_positive_limit() -> None:
    with pytest.raises(ConfigError, match="limit must be positive"):
        stratified_subset(LABELS, 0, seed=0)
