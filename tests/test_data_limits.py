"""A small input must not take the machine: size caps per file and per source, counted member lists,
pickled array shapes checked before allocation, and archive errors that do not hide our bugs."""

from __future__ import annotations

import io
import pickle
import resource
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import make_images, png_bytes, write_7z, write_image_folder, write_torchvision

from cifar_core.data import archive, load_cifar
from cifar_core.data.access import ROOTS_ENV
from cifar_core.data.limits import MAX_IMAGE_FILE_BYTES, MAX_OTHER_FILE_BYTES
from cifar_core.errors import DataError

TRAIN = make_images(2, seed=5)
BIG_IMAGE = MAX_IMAGE_FILE_BYTES + 1024  # zeros: a few KB once compressed


@pytest.fixture(autouse=True)
def unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)


def _members(extra: dict[str, bytes]) -> dict[str, bytes]:
    members = {}
    for index, (image, label) in enumerate(zip(*TRAIN, strict=True)):
        from cifar_core.classes import CIFAR10_CLASSES

        members[f"train/{CIFAR10_CLASSES[label]}/{index}.png"] = png_bytes(image)
    return members | extra


def _write(path: Path, members: dict[str, bytes]) -> Path:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
            for name, data in members.items():
                handle.writestr(name, data)
    elif path.name.endswith(".tar.gz"):
        with tarfile.open(path, "w:gz") as handle:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                handle.addfile(info, io.BytesIO(data))
    else:
        write_7z(path, members)
    return path


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced in the chunks asked for."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz", ".7z"])
def test_an_image_member_that_inflates_past_any_cifar_image_is_refused_unread(tmp_path: Path, suffix: str) -> None:
    source = _write(tmp_path / f"bomb{suffix}", _members({"train/cat/huge.png": bytes(BIG_IMAGE)}))
    assert source.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"huge.png' in .* is 1.0 MB, more than an image file of CIFAR-10 can be"):
        load_cifar(source, cache_dir=tmp_path / "cache")


def test_a_batch_member_bigger_than_a_torchvision_batch_is_refused_before_inflating(tmp_path: Path) -> None:
    """The issue's case scaled down: a tiny .tar.gz holding a member far larger than any batch."""
    size = MAX_OTHER_FILE_BYTES + 1
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as handle:
        for index in range(1, 6):
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{index}")
            info.size = size if index == 1 else 10
            handle.addfile(info, _Zeros(info.size))  # streamed: the test itself never holds 64 MB
    (tmp_path / "batches.tar.gz").write_bytes(buffer.getvalue())
    before = _rss_mb()
    with pytest.raises(DataError, match=r"data_batch_1' in .* is 64.0 MB, more than a file of a CIFAR-10 layout can be"):
        load_cifar(tmp_path / "batches.tar.gz", cache_dir=tmp_path / "cache")
    assert _rss_mb() - before < 40  # refused from the header: the 64 MB were never held


def test_an_image_file_in_a_folder_is_capped_from_its_size(tmp_path: Path) -> None:
    folder = write_image_folder(tmp_path / "imgs", {"train": TRAIN})
    (folder / "train" / "cat" / "huge.png").write_bytes(bytes(BIG_IMAGE))
    with pytest.raises(DataError, match=r"huge.png' is 1.0 MB, more than an image file"):
        load_cifar(folder, cache_dir=tmp_path / "cache")


def test_a_nested_archive_declaring_more_than_kaggle_test_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cifar_core.data.limits.MAX_NESTED_ARCHIVE_BYTES", 10_000)
    outer = _write(tmp_path / "kaggle.zip", {"trainLabels.csv": b"id,label\n1,cat\n", "train.7z": bytes(20_000)})
    with pytest.raises(DataError, match=r"train.7z' in .* more than an archive inside a CIFAR-10 source"):
        load_cifar(outer, cache_dir=tmp_path / "cache")


def test_a_7z_member_larger_than_declared_is_cut_off_while_inflating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 7z writer counts what it receives, so the cap holds even if a header lied."""
    source = _write(tmp_path / "imgs.7z", _members({}))
    monkeypatch.setattr("cifar_core.data.limits.MAX_IMAGE_FILE_BYTES", 100)  # every real PNG is above it
    monkeypatch.setattr(archive.SourceTree, "cap", lambda self, name: archive.file_cap(name))  # trust no header
    with pytest.raises(DataError, match=r"more than an image file of CIFAR-10 can be"):
        load_cifar(source, cache_dir=tmp_path / "cache")


def test_too_many_members_or_bytes_in_one_source_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _write(tmp_path / "imgs.tar.gz", _members({}))
    monkeypatch.setattr(archive, "MAX_FILES", 10)
    with pytest.raises(DataError, match=r"holds more than 10 files and folders"):
        load_cifar(source, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(archive, "MAX_FILES", 1000)
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 2_000)
    with pytest.raises(DataError, match=r"declares [\d,]+ bytes of files in all, more than any CIFAR-10 source holds \(2,000 bytes"):
        load_cifar(source, cache_dir=tmp_path / "cache")  # an archive: refused from its headers, while listing
    folder = write_image_folder(tmp_path / "imgs", {"train": TRAIN})  # a folder declares nothing: its reads are counted
    with pytest.raises(DataError, match=r"holds more than .* GB of files to read"):
        load_cifar(folder, cache_dir=tmp_path / "cache")


def _batch_folder(root: Path, batch: bytes) -> Path:
    batch_dir = write_torchvision(root, TRAIN)
    (batch_dir / "data_batch_1").write_bytes(batch)
    return root


def test_a_pickled_batch_that_creates_an_array_without_its_bytes_is_refused(tmp_path: Path) -> None:
    """83 bytes asking numpy.ndarray for a (20000, 3072) array, and labels of the same length."""
    batch = (
        b"\x80\x02}(C\x04datacnumpy\nndarray\nJ\x20\x4e\x00\x00M\x00\x0c\x86X\x02\x00\x00\x00u1\x86R"
        b"C\x06labelscnumpy\nndarray\nJ\x20\x4e\x00\x00\x85X\x02\x00\x00\x00u1\x86Ru."
    )
    with pytest.raises(DataError, match="creates an array without storing its contents"):
        load_cifar(_batch_folder(tmp_path / "tv", batch), cache_dir=tmp_path / "cache")


def test_a_pickled_array_shape_larger_than_the_file_is_refused_before_allocation(tmp_path: Path) -> None:
    honest = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]}, protocol=2)
    lying = honest.replace(b"K\x00\x85", b"J\x80\x84\x1e\x00\x85", 1)  # _reconstruct(ndarray, (2000000,), ...)
    assert lying != honest
    with pytest.raises(DataError, match=r"declares an array of shape \(2000000,\)"):
        load_cifar(_batch_folder(tmp_path / "tv", lying), cache_dir=tmp_path / "cache")


def test_honest_batches_still_load(tmp_path: Path) -> None:
    data = load_cifar(write_torchvision(tmp_path / "tv", TRAIN), cache_dir=tmp_path / "cache")
    assert np.array_equal(data.splits["train"].images.numpy(), TRAIN[0])


def test_an_error_of_our_own_inside_an_archive_block_is_not_called_corruption() -> None:
    with pytest.raises(KeyError), archive.archive_errors("x.zip"):
        {}["missing"]
    with pytest.raises(DataError, match="x.zip: it is truncated or corrupt"), archive.archive_errors("x.zip"):
        raise zipfile.BadZipFile("bad magic")


def test_a_truncated_archive_is_still_a_sentence(tmp_path: Path) -> None:
    source = _write(tmp_path / "imgs.zip", _members({}))
    source.write_bytes(source.read_bytes()[:300])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_cifar(source, cache_dir=tmp_path / "cache")
