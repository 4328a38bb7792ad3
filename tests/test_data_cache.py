"""Decoded arrays are cached per source version and never decoded twice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from data_fixtures import archive_dir, make_images, write_image_folder, write_kaggle

from cifar_core.data import cache, decode, default_cache_dir, load_cifar

TRAIN = make_images(2, seed=21)


def _refuse_to_decode(*args: object, **kwargs: object) -> None:
    raise AssertionError("decoded although the cache should have been used")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "imgs", {"train": TRAIN})


def test_second_load_reads_the_cache(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_cifar(source, cache_dir=tmp_path / "cache")
    assert first.cache_path is not None and Path(first.cache_path).is_file()
    assert Path(first.cache_path).parent == tmp_path / "cache"
    assert first.describe()["cache"] == first.cache_path
    monkeypatch.setattr(decode, "decode_image", _refuse_to_decode)
    second = load_cifar(source, cache_dir=tmp_path / "cache")
    assert second.cache_path == first.cache_path
    assert second.format == first.format and second.source == first.source
    assert torch.equal(second.splits["train"].images, first.splits["train"].images)
    assert torch.equal(second.splits["train"].labels, first.splits["train"].labels)
    assert second.splits["train"].ids == first.splits["train"].ids


def test_cache_keeps_kaggle_ids_and_unlabelled_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = archive_dir(write_kaggle(tmp_path / "k", TRAIN, TRAIN[0][:3]), tmp_path / "k.zip")
    first = load_cifar(source, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(decode, "decode_image", _refuse_to_decode)
    second = load_cifar(source, cache_dir=tmp_path / "cache")
    assert second.format == "kaggle"
    assert second.splits["test"].ids == ["1", "2", "3"]
    assert torch.equal(second.splits["test"].labels, first.splits["test"].labels)


def test_corrupt_cache_is_rebuilt(source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = load_cifar(source, cache_dir=tmp_path / "cache")
    cache_file = Path(first.cache_path)
    cache_file.write_bytes(cache_file.read_bytes()[:1000])
    second = load_cifar(source, cache_dir=tmp_path / "cache")
    assert "ignoring unreadable cache file" in caplog.text
    assert torch.equal(second.splits["train"].images, first.splits["train"].images)
    assert cache.load(cache.entry_for(tmp_path / "cache", source.resolve(), resize=False)) is not None


def test_changed_source_is_decoded_again(source: Path, tmp_path: Path) -> None:
    first = load_cifar(source, cache_dir=tmp_path / "cache")
    image = source / "train" / "cat" / "1.png"
    image.write_bytes((source / "train" / "dog" / "1.png").read_bytes())
    os.utime(image, ns=(1, 1))
    second = load_cifar(source, cache_dir=tmp_path / "cache")
    assert second.cache_path != first.cache_path
    assert torch.equal(second.splits["train"].images[6], first.splits["train"].images[10])


def test_resize_option_has_its_own_cache(source: Path, tmp_path: Path) -> None:
    plain = load_cifar(source, cache_dir=tmp_path / "cache")
    resized = load_cifar(source, cache_dir=tmp_path / "cache", resize=True)
    assert plain.cache_path != resized.cache_path


def test_unwritable_cache_dir_still_loads(source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    data = load_cifar(source, cache_dir=blocker)
    assert data.cache_path is None
    assert "could not write the data cache" in caplog.text
    assert list(tmp_path.glob("not-a-dir*")) == [blocker]


def test_atomic_write_leaves_no_temp_files(source: Path, tmp_path: Path) -> None:
    load_cifar(source, cache_dir=tmp_path / "cache")
    assert [path.suffix for path in (tmp_path / "cache").iterdir()] == [".npz"]


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIFAR_EXPLORER_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("CIFAR_EXPLORER_CACHE")
    assert default_cache_dir().name == "cifar-explorer"


def test_progress_reports_decoding_then_cache(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    load_cifar(source, cache_dir=tmp_path / "cache", progress=True)
    assert "imgs: decoded 20/20 images" in capsys.readouterr().err
    load_cifar(source, cache_dir=tmp_path / "cache", progress=True)
    assert "imgs: using decoded cache" in capsys.readouterr().err
