"""Bad input of every kind ends in one DataError that names the file and what was expected."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import (
    archive_dir,
    make_images,
    png_bytes,
    write_7z,
    write_image_folder,
    write_kaggle,
    write_labels_csv,
    write_torchvision,
)
from PIL import Image

from cifar_core.data import load_cifar, loader
from cifar_core.errors import DataError

TRAIN = make_images(2, seed=11)


def _load(source: Path, tmp_path: Path, **kwargs: object):
    return load_cifar(source, cache_dir=tmp_path / "cache", **kwargs)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "imgs", {"train": TRAIN})


@pytest.fixture
def kaggle(tmp_path: Path) -> Path:
    return write_kaggle(tmp_path / "kaggle", TRAIN)


# --- sources and archives -------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data source .*nowhere does not exist"):
        _load(tmp_path / "nowhere", tmp_path)


def test_unsupported_archive_type(tmp_path: Path) -> None:
    (tmp_path / "cifar.rar").write_bytes(b"Rar!")
    with pytest.raises(DataError, match=r"unsupported data source .*cifar.rar.*\.tar\.gz.*\.zip.*\.7z"):
        _load(tmp_path / "cifar.rar", tmp_path)


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip", ".7z"])
def test_truncated_archive(suffix: str, image_folder: Path, tmp_path: Path) -> None:
    archive = archive_dir(image_folder, tmp_path / f"images{suffix}")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"cannot read archive .*images{suffix}.*truncated or corrupt"):
        _load(archive, tmp_path)


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".zip", ".7z"])
def test_garbage_archive(suffix: str, tmp_path: Path) -> None:
    archive = tmp_path / f"images{suffix}"
    archive.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataError, match=rf"cannot read archive .*images{suffix}.*truncated or corrupt"):
        _load(archive, tmp_path)


def test_corrupt_7z_member_data(image_folder: Path, tmp_path: Path) -> None:
    archive = archive_dir(image_folder, tmp_path / "images.7z")
    data = bytearray(archive.read_bytes())
    for offset in range(64, 512):  # packed data follows the 32-byte signature header
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"images\.7z"):
        _load(archive, tmp_path)


def test_unknown_layout_lists_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "readme.md").write_text("hello")
    with pytest.raises(DataError, match=r"does not hold CIFAR-10 .*found: readme.md.*cifar-10-batches-py.*train.7z.*train/<class>"):
        _load(tmp_path / "stuff", tmp_path)


def test_several_archives_in_a_folder(image_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    archive_dir(image_folder, tmp_path / "data" / "a.zip")
    archive_dir(image_folder, tmp_path / "data" / "b.tar.gz")
    with pytest.raises(DataError, match=r"several archives \(a.zip, b.tar.gz\)"):
        _load(tmp_path / "data", tmp_path)


def test_missing_default_data_dir_explains_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "project_data_dir", lambda: tmp_path / "data")
    with pytest.raises(DataError, match=r"no CIFAR-10 data found in .*data; .*cifar-10-batches-py.*trainLabels.csv.*train/<class>"):
        load_cifar(cache_dir=tmp_path / "cache")


# --- Kaggle ----------------------------------------------------------------------------------


def test_kaggle_labels_csv_missing(kaggle: Path, tmp_path: Path) -> None:
    (kaggle / "trainLabels.csv").unlink()
    with pytest.raises(DataError, match=r"has train.7z but no trainLabels.csv"):
        _load(kaggle, tmp_path)


def test_kaggle_labels_without_images(kaggle: Path, tmp_path: Path) -> None:
    (kaggle / "train.7z").unlink()
    with pytest.raises(DataError, match=r"has trainLabels.csv but no train.7z"):
        _load(kaggle, tmp_path)


def test_kaggle_unknown_class_names(kaggle: Path, tmp_path: Path) -> None:
    rows = [(i, "airplane") for i in range(1, 19)] + [(19, "plane"), (20, "car")]
    write_labels_csv(kaggle / "trainLabels.csv", rows)
    with pytest.raises(
        DataError, match=r"trainLabels.csv.* unknown class names 'plane', 'car' \(first on line 20\); expected one of airplane"
    ):
        _load(kaggle, tmp_path)


def test_kaggle_duplicate_ids(kaggle: Path, tmp_path: Path) -> None:
    rows = [(i, "cat") for i in range(1, 21)] + [(3, "dog")]
    write_labels_csv(kaggle / "trainLabels.csv", rows)
    with pytest.raises(DataError, match=r"trainLabels.csv.* lists these ids more than once: 3"):
        _load(kaggle, tmp_path)


def test_kaggle_ids_without_images(kaggle: Path, tmp_path: Path) -> None:
    write_labels_csv(kaggle / "trainLabels.csv", [(i, "cat") for i in range(1, 23)])
    with pytest.raises(DataError, match=r"lists ids with no image in .*train.7z: 21, 22"):
        _load(kaggle, tmp_path)


def test_kaggle_images_without_ids(kaggle: Path, tmp_path: Path) -> None:
    write_labels_csv(kaggle / "trainLabels.csv", [(i, "cat") for i in range(1, 19)])
    with pytest.raises(DataError, match=r"train.7z has images with no id in .*trainLabels.csv.*: train/19.png, train/20.png"):
        _load(kaggle, tmp_path)


def test_kaggle_bad_header(kaggle: Path, tmp_path: Path) -> None:
    (kaggle / "trainLabels.csv").write_text("name,class\n1,cat\n")
    with pytest.raises(DataError, match=r"must start with the header 'id,label'"):
        _load(kaggle, tmp_path)


def test_kaggle_non_numeric_id(kaggle: Path, tmp_path: Path) -> None:
    (kaggle / "trainLabels.csv").write_text("id,label\n1,cat\nx7,dog\n")
    with pytest.raises(DataError, match=r"line 3: expected '<numeric id>,<class name>', got 'x7,dog'"):
        _load(kaggle, tmp_path)


# --- images ----------------------------------------------------------------------------------


def test_wrong_image_size_names_file_and_size(image_folder: Path, tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(image_folder / "train" / "cat" / "7.png")
    with pytest.raises(DataError, match=r"image '.*train/cat/7.png' is 40x30 pixels.*32x32; resize the images") as info:
        _load(image_folder, tmp_path)
    assert "--resize" not in str(info.value)  # train, evaluate and predict have no such flag


def test_wrong_image_size_inside_7z(kaggle: Path, tmp_path: Path) -> None:
    members = {f"train/{i}.png": png_bytes(image) for i, image in enumerate(TRAIN[0], 1)}
    members["train/5.png"] = png_bytes(np.zeros((16, 16, 3), np.uint8))
    write_7z(kaggle / "train.7z", members)
    with pytest.raises(DataError, match=r"image 'train/5.png' in .*train.7z is 16x16 pixels"):
        _load(kaggle, tmp_path)


def test_unreadable_image_bytes(image_folder: Path, tmp_path: Path) -> None:
    (image_folder / "train" / "dog" / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"cannot decode image '.*train/dog/bad.png'"):
        _load(image_folder, tmp_path)


def test_truncated_image(image_folder: Path, tmp_path: Path) -> None:
    path = image_folder / "train" / "dog" / "1.png"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot decode image '.*train/dog/1.png'"):
        _load(image_folder, tmp_path)


def test_empty_class_folder(image_folder: Path, tmp_path: Path) -> None:
    shutil.rmtree(image_folder / "train" / "frog")
    (image_folder / "train" / "frog").mkdir()
    (image_folder / "train" / "frog" / "readme.txt").write_text("empty")
    with pytest.raises(DataError, match=r"class folder '.*train/frog' has no .png/.jpg images"):
        _load(image_folder, tmp_path)


def test_wrong_class_set(image_folder: Path, tmp_path: Path) -> None:
    (image_folder / "train" / "cat").rename(image_folder / "train" / "kitten")
    with pytest.raises(
        DataError,
        match=r"class folders airplane, .*kitten.*; expected exactly the CIFAR-10 classes airplane, "
        r".*truck \(missing: cat\) \(unexpected: kitten\)",
    ):
        _load(image_folder, tmp_path)


def test_flat_train_folder_hints_at_kaggle(tmp_path: Path) -> None:
    (tmp_path / "src" / "train").mkdir(parents=True)
    (tmp_path / "src" / "train" / "1.png").write_bytes(png_bytes(TRAIN[0][0]))
    with pytest.raises(DataError, match=r"has class folders \(none\); expected .* \(it holds images directly; a Kaggle"):
        _load(tmp_path / "src", tmp_path)


# --- torchvision batches ---------------------------------------------------------------------


@pytest.fixture
def batches(tmp_path: Path) -> Path:
    return write_torchvision(tmp_path / "tv", TRAIN)


def test_torchvision_missing_batch(batches: Path, tmp_path: Path) -> None:
    (batches / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"incomplete cifar-10-batches-py folder: missing data_batch_3"):
        _load(batches, tmp_path)


def test_torchvision_corrupt_batch(batches: Path, tmp_path: Path) -> None:
    (batches / "data_batch_2").write_bytes(b"\x80\x02}q\x00(")
    with pytest.raises(DataError, match=r"'.*data_batch_2' is not a readable CIFAR-10 python batch"):
        _load(batches, tmp_path)


def test_torchvision_batch_cannot_run_code(batches: Path, tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (batches / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit()}))
    with pytest.raises(DataError, match=r"data_batch_1' is not a readable .*references builtins.print"):
        _load(batches, tmp_path)


def test_torchvision_wrong_batch_content(batches: Path, tmp_path: Path) -> None:
    (batches / "data_batch_4").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"data_batch_4' is not a CIFAR-10 python batch: expected b'data' as uint8 \[N, 3072\]"):
        _load(batches, tmp_path)


def test_torchvision_wrong_classes(batches: Path, tmp_path: Path) -> None:
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"apple", b"pear"]}))
    with pytest.raises(DataError, match=r"batches.meta' lists the classes apple, pear; expected the CIFAR-10 classes airplane"):
        _load(batches, tmp_path)
