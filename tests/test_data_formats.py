"""Every supported layout, as a folder and as archives, yields the same tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import (
    archive_dir,
    make_images,
    write_image_folder,
    write_kaggle,
    write_torchvision,
)

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import CifarData, load_cifar, loader
from cifar_core.errors import DataError

TRAIN = make_images(3, seed=1)
TEST = make_images(1, seed=2)


def _torchvision_dir(tmp: Path) -> Path:
    return write_torchvision(tmp / "tv", TRAIN, TEST)


def _torchvision_parent(tmp: Path) -> Path:
    return _torchvision_dir(tmp).parent


def _torchvision_targz(tmp: Path) -> Path:
    _torchvision_dir(tmp)
    return archive_dir(tmp / "tv", tmp / "cifar-10-python.tar.gz")


def _folder_with_torchvision_archive(tmp: Path) -> Path:
    (tmp / "data").mkdir()
    _torchvision_dir(tmp)
    archive_dir(tmp / "tv", tmp / "data" / "cifar-10-python.tar.gz")
    return tmp / "data"


def _image_folder(tmp: Path) -> Path:
    return write_image_folder(tmp / "imgs", {"train": TRAIN, "test": TEST})


def _image_archive(suffix: str, top: str | None = None):
    def build(tmp: Path) -> Path:
        return archive_dir(_image_folder(tmp), tmp / f"images{suffix}", top=top)

    return build


LABELLED_SOURCES = {
    "torchvision-dir": (_torchvision_dir, "torchvision"),
    "torchvision-parent-dir": (_torchvision_parent, "torchvision"),
    "torchvision-tar.gz": (_torchvision_targz, "torchvision"),
    "folder-holding-archive": (_folder_with_torchvision_archive, "torchvision"),
    "image-folder-dir": (_image_folder, "image_folder"),
    "image-folder-tar.gz": (_image_archive(".tar.gz"), "image_folder"),
    "image-folder-tgz-top-folder": (_image_archive(".tgz", top="cifar10"), "image_folder"),
    "image-folder-tar": (_image_archive(".tar"), "image_folder"),
    "image-folder-zip": (_image_archive(".zip"), "image_folder"),
    "image-folder-zip-top-folder": (_image_archive(".zip", top="cifar10"), "image_folder"),
    "image-folder-7z": (_image_archive(".7z"), "image_folder"),
}


def _assert_split(data: CifarData, split: str, expected: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = data.splits[split].images, data.splits[split].labels
    assert images.dtype == torch.uint8 and images.is_contiguous()
    assert labels.dtype == torch.int64
    assert torch.equal(images, torch.from_numpy(expected[0]))
    assert torch.equal(labels, torch.from_numpy(expected[1]))


@pytest.mark.parametrize("name", list(LABELLED_SOURCES))
def test_labelled_sources_give_identical_tensors(name: str, tmp_path: Path) -> None:
    build, expected_format = LABELLED_SOURCES[name]
    source = build(tmp_path)
    data = load_cifar(source, cache_dir=tmp_path / "cache")
    assert data.format == expected_format
    assert data.source == str(source.resolve())
    assert data.classes == CIFAR10_CLASSES
    assert not data.is_synthetic
    _assert_split(data, "train", TRAIN)
    _assert_split(data, "test", TEST)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_kaggle_train_and_unlabelled_test(as_zip: bool, tmp_path: Path) -> None:
    source = write_kaggle(tmp_path / "kaggle", TRAIN, TEST[0])
    if as_zip:
        source = archive_dir(source, tmp_path / "cifar-10.zip")
    data = load_cifar(source, cache_dir=tmp_path / "cache")
    assert data.format == "kaggle"
    _assert_split(data, "train", TRAIN)
    assert data.splits["train"].ids == [str(i) for i in range(1, len(TRAIN[1]) + 1)]
    test = data.splits["test"]
    assert torch.equal(test.images, torch.from_numpy(TEST[0]))
    assert (test.labels == -1).all()
    assert test.ids == [str(i) for i in range(1, 11)]  # natural order: 10 comes last
    assert data.describe()["splits"]["test"] == {"count": 10, "per_class": {}}


def test_kaggle_with_extracted_train_folder(tmp_path: Path) -> None:
    source = write_kaggle(tmp_path / "kaggle", TRAIN, extracted=True)
    data = load_cifar(source, cache_dir=tmp_path / "cache")
    assert data.format == "kaggle"
    _assert_split(data, "train", TRAIN)


def test_image_folder_ids_are_class_and_stem_in_natural_order(tmp_path: Path) -> None:
    images, labels = make_images(11, seed=3)
    data = load_cifar(write_image_folder(tmp_path / "imgs", {"train": (images, labels)}), cache_dir=tmp_path / "c")
    ids = data.splits["train"].ids
    assert ids[:11] == [f"airplane/{k}" for k in range(1, 12)]
    assert ids[-1] == "truck/11" and len(set(ids)) == len(ids) == 110  # every class has a 1.png
    assert list(data.splits) == ["train"]


def test_jpeg_image_folder_decodes_like_pil(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "imgs" / "train"
    expected = []
    for label, name in enumerate(CIFAR10_CLASSES):
        (path / name).mkdir(parents=True)
        image = Image.fromarray(TRAIN[0][label * 3].transpose(1, 2, 0))
        image.save(path / name / "1.JPG", quality=90)
        expected.append(np.asarray(Image.open(path / name / "1.JPG").convert("RGB")).transpose(2, 0, 1))
    data = load_cifar(tmp_path / "imgs", cache_dir=tmp_path / "cache")
    assert torch.equal(data.splits["train"].images, torch.from_numpy(np.stack(expected)))


def test_image_modes_are_converted_to_rgb(tmp_path: Path) -> None:
    from PIL import Image

    root = write_image_folder(tmp_path / "imgs", {"train": make_images(1, seed=4)})
    rgb = np.random.default_rng(5).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    gray = rgb[:, :, 0]
    Image.fromarray(gray, mode="L").save(root / "train" / "cat" / "1.png")
    Image.fromarray(np.dstack([rgb, np.full((32, 32), 7, np.uint8)]), mode="RGBA").save(root / "train" / "dog" / "1.png")
    Image.fromarray(rgb).convert("P").save(root / "train" / "frog" / "1.png")
    palette_rgb = np.asarray(Image.open(root / "train" / "frog" / "1.png").convert("RGB"))
    images = load_cifar(root, cache_dir=tmp_path / "cache").splits["train"].images
    assert torch.equal(images[3], torch.from_numpy(np.stack([gray] * 3)))
    assert torch.equal(images[5], torch.from_numpy(rgb.transpose(2, 0, 1).copy()))
    assert torch.equal(images[6], torch.from_numpy(palette_rgb.transpose(2, 0, 1).copy()))


def test_non_image_files_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_image_folder(tmp_path / "imgs", {"train": TRAIN})
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    (root / "train" / ".DS_Store").write_bytes(b"\0")
    data = load_cifar(root, cache_dir=tmp_path / "cache")
    assert data.skipped_files == 2
    assert data.describe()["skipped_files"] == 2
    _assert_split(data, "train", TRAIN)
    assert "skipped 2 non-image files" in caplog.text


def test_resize_option_resizes_other_sizes(tmp_path: Path) -> None:
    from PIL import Image

    root = write_image_folder(tmp_path / "imgs", {"train": TRAIN})
    Image.new("RGB", (40, 30), (10, 200, 30)).save(root / "train" / "cat" / "2.png")
    data = load_cifar(root, cache_dir=tmp_path / "cache", resize=True)
    images = data.splits["train"].images
    assert images.shape == (30, 3, 32, 32)
    assert images[10].flatten(1).float().mean(1).round().tolist() == [10.0, 200.0, 30.0]


def test_default_source_is_project_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = _image_folder(tmp_path)
    monkeypatch.setattr(loader, "project_data_dir", lambda: data_dir)
    data = load_cifar(cache_dir=tmp_path / "cache")
    assert data.source == str(data_dir.resolve())
    _assert_split(data, "train", TRAIN)


def test_download_fetches_torchvision_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    calls = []

    def fake_cifar10(root: str, train: bool, download: bool) -> None:
        calls.append((root, download))
        write_torchvision(Path(root), TRAIN, TEST)

    monkeypatch.setattr(loader, "project_data_dir", lambda: tmp_path / "data")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    data = load_cifar(download=True, cache_dir=tmp_path / "cache")
    assert calls == [(str(tmp_path / "data"), True)]
    assert data.format == "torchvision"
    _assert_split(data, "train", TRAIN)


def test_download_failure_is_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(loader, "project_data_dir", lambda: tmp_path / "data")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="downloading it failed .network unreachable.*train.7z"):
        load_cifar(download=True, cache_dir=tmp_path / "cache")


def test_synthetic_source_string(tmp_path: Path) -> None:
    data = load_cifar("synthetic", cache_dir=tmp_path / "cache")
    assert data.is_synthetic and data.format == "synthetic" and data.source == "synthetic"
    assert data.cache_path is None
    assert not (tmp_path / "cache").exists()
