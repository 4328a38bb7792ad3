"""The shared 50,000-image JPEG tarball loads completely, then comes from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_cifar


@pytest.mark.realdata
def test_shared_tarball(shared_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache_dir = tmp_path_factory.mktemp("realdata-cache")
    data = load_cifar(shared_tarball, cache_dir=cache_dir)
    assert data.format == "image_folder" and list(data.splits) == ["train"]
    train = data.splits["train"]
    assert train.images.shape == (50_000, 3, 32, 32) and train.images.dtype == torch.uint8
    assert data.describe()["splits"]["train"]["per_class"] == dict.fromkeys(CIFAR10_CLASSES, 5000)
    assert data.skipped_files == 0
    assert 40 < train.images.float().mean() < 200  # real photos, not blank decodes
    cached = load_cifar(shared_tarball, cache_dir=cache_dir)
    assert cached.cache_path == data.cache_path
    assert torch.equal(cached.splits["train"].images, train.images)
