"""The synthetic stand-in: shapes, balance, determinism and learnability."""

from __future__ import annotations

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_synthetic
from cifar_core.errors import ConfigError


def test_shapes_types_and_balance() -> None:
    data = load_synthetic(n_per_class=7, seed=0, n_test_per_class=3)
    assert data.format == "synthetic" and data.source == "synthetic" and data.is_synthetic
    assert data.classes == CIFAR10_CLASSES and data.cache_path is None
    train, test = data.splits["train"], data.splits["test"]
    assert test.images.shape == (30, 3, 32, 32) and torch.equal(test.labels.bincount(), torch.full((10,), 3))
    assert train.images.shape == (70, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.images.is_contiguous()
    assert train.labels.dtype == torch.int64 and train.ids is None
    assert torch.equal(train.labels[:10], torch.arange(10))  # interleaved: any prefix is balanced
    assert data.describe()["splits"]["test"] == {"count": 30, "per_class": dict.fromkeys(CIFAR10_CLASSES, 3)}
    assert data.describe()["synthetic"] is True


def test_deterministic_per_seed() -> None:
    first, again, other = (load_synthetic(5, seed=s) for s in (1, 1, 2))
    assert torch.equal(first.splits["train"].images, again.splits["train"].images)
    assert torch.equal(first.splits["test"].images, again.splits["test"].images)
    assert not torch.equal(first.splits["train"].images, other.splits["train"].images)
    assert not torch.equal(first.splits["train"].images[:50], first.splits["test"].images[:50])


def test_no_test_split_when_asked() -> None:
    assert list(load_synthetic(2, n_test_per_class=0).splits) == ["train"]


def test_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="n_per_class >= 1"):
        load_synthetic(0)


def test_classes_are_learnable() -> None:
    data = load_synthetic(n_per_class=50, seed=0, n_test_per_class=20)

    def features(images: torch.Tensor):
        return images.float().reshape(len(images), 3, 4, 8, 4, 8).mean((3, 5)).flatten(1).numpy() / 255

    train, test = data.splits["train"], data.splits["test"]
    model = LogisticRegression(max_iter=300).fit(features(train.images), train.labels.numpy())
    assert model.score(features(test.images), test.labels.numpy()) > 0.85
