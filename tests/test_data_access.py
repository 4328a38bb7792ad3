"""The one access gate: roots confine every source and every file in it; only regular files are read;
odd file names, broken links, long paths and a damaged cache become sentences."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import archive_dir, make_images, png_bytes, write_image_folder

from cifar_core.data import iter_unlabelled_images, load_cifar
from cifar_core.data.access import DEFAULT_ENV, ROOTS_ENV
from cifar_core.errors import DataError
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute
from cifar_core.train.config import TrainConfig

TRAIN = make_images(2, seed=11)


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``allowed/`` (the only root) holding an image folder, and ``outside/`` with a secret dataset."""
    monkeypatch.delenv(DEFAULT_ENV, raising=False)
    write_image_folder(tmp_path / "allowed" / "imgs", {"train": TRAIN})
    write_image_folder(tmp_path / "outside" / "secret-set", {"train": TRAIN})
    (tmp_path / "outside" / "secret.png").write_bytes(png_bytes(np.full((3, 32, 32), 7, np.uint8)))
    monkeypatch.setenv(ROOTS_ENV, str(tmp_path / "allowed"))
    return tmp_path


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the suite) if the code under test blocks for 20 s."""

    def fail(*_: object) -> None:
        raise TimeoutError("blocked: a FIFO or device was opened")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _load(source: Path | str, tmp_path: Path, **kwargs: object):
    return load_cifar(source, cache_dir=tmp_path / "cache", **kwargs)


# --- roots: one check for every way in ---------------------------------------------------------


def test_a_source_outside_the_roots_is_refused_by_the_loader_itself(place: Path) -> None:
    with pytest.raises(DataError, match="outside the folders this app may read from"):
        _load(place / "outside" / "secret-set", place)
    with pytest.raises(DataError, match="outside the folders"):
        _load("/etc", place)  # refused before existence or layout is looked at: nothing about /etc leaks
    with pytest.raises(DataError, match="outside the folders"):
        next(iter_unlabelled_images(place / "outside" / "secret-set"))
    assert len(_load(place / "allowed" / "imgs", place).splits["train"]) == 20


def test_a_saved_config_or_study_grid_pointing_outside_fails_its_run_with_the_sentence(
    place: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIFAR_EXPLORER_CACHE", str(place / "cache"))
    store = RunStore(place / "runs")
    run = store.create(TrainConfig(data=str(place / "outside" / "secret-set"), epochs=1, device="cpu"), "grid-variant")
    assert execute(run) is None
    error = run.summary()["error"]
    assert "outside the folders this app may read from" in error and "secret.png" not in error


def test_a_link_to_an_outside_folder_is_refused_without_naming_its_target(place: Path) -> None:
    os.symlink(place / "outside" / "secret-set", place / "allowed" / "innocent")
    with pytest.raises(DataError, match="outside the folders") as info:
        _load(place / "allowed" / "innocent", place)
    assert "secret-set" not in str(info.value)


def test_a_file_inside_a_root_that_links_outside_is_not_read(place: Path) -> None:
    link = place / "allowed" / "imgs" / "train" / "cat" / "zz_link.png"
    os.symlink(place / "outside" / "secret.png", link)
    with pytest.raises(DataError, match="zz_link.png' is a link to a file outside the folders") as info:
        _load(place / "allowed" / "imgs", place)
    assert "secret" not in str(info.value)


def test_the_link_check_also_guards_a_cached_decode(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoded unconfined (the CLI), then served confined: the cache must not hand the outside image over."""
    os.symlink(place / "outside" / "secret.png", place / "allowed" / "imgs" / "train" / "cat" / "zz_link.png")
    monkeypatch.delenv(ROOTS_ENV)
    assert len(_load(place / "allowed" / "imgs", place).splits["train"]) == 21  # a local user may link anywhere
    monkeypatch.setenv(ROOTS_ENV, str(place / "allowed"))
    with pytest.raises(DataError, match="is a link to a file outside"):
        _load(place / "allowed" / "imgs", place)


def test_the_configured_default_source_stays_readable_outside_the_roots(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_ENV, str(place / "outside" / "secret-set"))
    assert len(_load(place / "outside" / "secret-set", place).splits["train"]) == 20


def test_without_roots_any_readable_source_loads(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV)
    assert len(_load(place / "outside" / "secret-set", place).splits["train"]) == 20


# --- only regular files ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    return write_image_folder(tmp_path / "imgs", {"train": TRAIN})


def test_a_link_to_a_device_in_a_folder_is_refused_before_reading(folder: Path, tmp_path: Path, deadline: None) -> None:
    os.symlink("/dev/null", folder / "train" / "cat" / "zero.png")  # /dev/zero itself would fill memory on a regression
    with pytest.raises(DataError, match=r"zero.png' is not a regular file"):
        _load(folder, tmp_path)


def test_a_fifo_in_a_folder_is_refused_instead_of_blocking(folder: Path, tmp_path: Path, deadline: None) -> None:
    os.mkfifo(folder / "train" / "cat" / "pipe.png")
    with pytest.raises(DataError, match=r"pipe.png' is not a regular file"):
        _load(folder, tmp_path)


def test_a_fifo_or_device_given_as_the_source_is_refused(tmp_path: Path, deadline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    os.mkfifo(tmp_path / "data.tar.gz")
    with pytest.raises(DataError, match="is not a folder or a regular file"):
        _load(tmp_path / "data.tar.gz", tmp_path)
    with pytest.raises(DataError, match="is not a folder or a regular file"):
        next(iter_unlabelled_images("/dev/zero"))


def test_a_fifo_posing_as_a_nested_archive_is_refused(folder: Path, tmp_path: Path, deadline: None) -> None:
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    (kaggle / "trainLabels.csv").write_text("id,label\n1,cat\n")
    os.mkfifo(kaggle / "train.7z")
    with pytest.raises(DataError, match=r"train.7z' is not a regular file"):
        _load(kaggle, tmp_path)


# --- names, links, paths and the cache: sentences, not tracebacks ------------------------------


def test_a_latin1_file_name_loads(folder: Path, tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.png")  # not UTF-8: the fingerprint hashed it as text and crashed
    (folder / "train" / "cat" / name).write_bytes(png_bytes(np.zeros((3, 32, 32), np.uint8)))
    data = _load(folder, tmp_path)
    assert data.splits["train"].per_class()["cat"] == 3
    again = _load(folder, tmp_path)  # served from the cache, same key
    assert again.cache_path == data.cache_path and len(again.splits["train"]) == 21


def test_a_latin1_file_name_in_a_message_can_be_shown(folder: Path, tmp_path: Path) -> None:
    (folder / "train" / "cat" / os.fsdecode(b"caf\xe9.png")).write_bytes(b"not an image")
    with pytest.raises(DataError, match="caf\ufffd.png") as info:
        _load(folder, tmp_path)
    str(info.value).encode("utf-8")  # what a page or a terminal does with it


def test_a_broken_link_is_named(folder: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.png", folder / "train" / "dog" / "broken.png")
    with pytest.raises(DataError, match=r"broken.png' is a broken link"):
        _load(folder, tmp_path)


def test_a_broken_link_that_is_not_an_image_is_skipped(folder: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.txt", folder / "train" / "dog" / "notes.txt")
    assert _load(folder, tmp_path).skipped_files == 1


def test_a_path_too_long_for_the_system_is_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    with pytest.raises(DataError, match="too long to be a path"):
        _load("/tmp/" + "a" * 5000, tmp_path)


def test_a_cache_folder_that_cannot_be_used_only_costs_a_decode(folder: Path, tmp_path: Path) -> None:
    data = load_cifar(folder, cache_dir=tmp_path / ("c" * 5000))  # every access to it fails (ENAMETOOLONG)
    assert len(data.splits["train"]) == 20 and data.cache_path is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_an_unreadable_cache_folder_only_costs_a_decode(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "locked"
    cache.mkdir(mode=0)
    try:
        assert len(load_cifar(folder, cache_dir=cache).splits["train"]) == 20
    finally:
        cache.chmod(0o700)


def test_a_tampered_cache_file_is_ignored_and_rebuilt(folder: Path, tmp_path: Path) -> None:
    first = _load(folder, tmp_path)
    with np.load(first.cache_path) as npz:
        arrays = dict(npz)
    arrays["train_labels"] = np.full_like(arrays["train_labels"], 57)  # a class that does not exist
    with open(first.cache_path, "wb") as handle:
        np.savez(handle, **arrays)
    again = _load(folder, tmp_path)
    assert again.splits["train"].labels.tolist() == first.splits["train"].labels.tolist()
    assert again.describe()["splits"]["train"]["per_class"]["cat"] == 2


def test_archives_are_checked_like_folders(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "allowed").mkdir()
    inside = archive_dir(folder, tmp_path / "allowed" / "imgs.zip")
    outside = archive_dir(folder, tmp_path / "imgs.zip")
    os.symlink(outside, tmp_path / "allowed" / "link.zip")
    monkeypatch.setenv(ROOTS_ENV, str(tmp_path / "allowed"))
    assert len(_load(inside, tmp_path).splits["train"]) == 20
    with pytest.raises(DataError, match="outside the folders"):
        _load(tmp_path / "allowed" / "link.zip", tmp_path)
