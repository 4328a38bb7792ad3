"""Streaming unlabelled images (Kaggle's test.7z) in batches, in natural id order."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from data_fixtures import archive_dir, make_images, png_bytes, write_7z, write_kaggle

from cifar_core.data import iter_unlabelled_images
from cifar_core.errors import ConfigError, DataError

IMAGES = make_images(3, seed=31)[0][:25]


def _lexicographic_test_7z(path: Path) -> Path:
    """Members stored as 1, 10, 11, …, 2, 20, … (what a plain string sort gives)."""
    names = sorted(f"test/{i}.png" for i in range(1, 26))
    return write_7z(path, {name: png_bytes(IMAGES[int(Path(name).stem) - 1]) for name in names})


def _collect(source: Path, batch_size: int) -> tuple[list[list[str]], torch.Tensor]:
    batches = list(iter_unlabelled_images(source, batch_size=batch_size))
    return [ids for ids, _ in batches], torch.cat([images for _, images in batches])


def test_test_7z_streams_in_natural_order(tmp_path: Path) -> None:
    ids, images = _collect(_lexicographic_test_7z(tmp_path / "test.7z"), batch_size=10)
    assert [len(batch) for batch in ids] == [10, 10, 5]
    assert sum(ids, []) == [str(i) for i in range(1, 26)]
    assert images.dtype == torch.uint8 and torch.equal(images, torch.from_numpy(IMAGES))


def test_kaggle_folder_uses_its_test_7z(tmp_path: Path) -> None:
    source = write_kaggle(tmp_path / "kaggle", make_images(1, seed=1), IMAGES)
    ids, images = _collect(source, batch_size=1024)
    assert ids == [[str(i) for i in range(1, 26)]]
    assert torch.equal(images, torch.from_numpy(IMAGES))


@pytest.mark.parametrize("suffix", ["", ".zip", ".tar.gz"])
def test_folder_or_archive_of_images(suffix: str, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, image in enumerate(IMAGES[:12], start=1):
        (folder / f"img{i}.png").write_bytes(png_bytes(image))
    (folder / "notes.txt").write_text("skipped")
    source = archive_dir(folder, tmp_path / f"pics{suffix}") if suffix else folder
    ids, images = _collect(source, batch_size=5)
    assert sum(ids, []) == [f"img{i}" for i in range(1, 13)]
    assert torch.equal(images, torch.from_numpy(IMAGES[:12]))


def test_stopping_early_releases_the_reader(tmp_path: Path) -> None:
    stream = iter_unlabelled_images(_lexicographic_test_7z(tmp_path / "test.7z"), batch_size=4)
    ids, images = next(stream)
    assert ids == ["1", "2", "3", "4"] and images.shape == (4, 3, 32, 32)
    stream.close()


def test_no_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="holds no .png/.jpg images"):
        next(iter_unlabelled_images(tmp_path / "empty"))


def test_bad_arguments_fail_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch size must be at least 1"):
        iter_unlabelled_images(tmp_path, batch_size=0)
    with pytest.raises(DataError, match="does not exist"):
        iter_unlabelled_images(tmp_path / "missing")
