"""Builders of small CIFAR-10 sources in every supported layout, from generated images.

Images are class-grouped (all airplanes first, then automobiles, …) so every layout — torchvision
batches, Kaggle ids, image-folder class folders — yields the same order, and PNG keeps them exact.
"""

from __future__ import annotations

import csv
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import py7zr
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES

Images = tuple[np.ndarray, np.ndarray]  # uint8 [N,3,32,32], int64 [N]


def make_images(n_per_class: int, seed: int) -> Images:
    """Random class-grouped images and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CIFAR10_CLASSES), dtype=np.int64), n_per_class)
    images = rng.integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    return images, labels


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of one ``[3, 32, 32]`` image (or of any PIL-ready HWC/HW array)."""
    array = image.transpose(1, 2, 0) if image.ndim == 3 and image.shape[0] == 3 else image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_folder(root: Path, splits: dict[str, Images]) -> Path:
    """``root/<split>/<class>/<k>.png``, k counting from 1 within each class."""
    for split, (images, labels) in splits.items():
        counters: dict[int, int] = {}
        for image, label in zip(images, labels, strict=True):
            counters[label] = counters.get(label, 0) + 1
            path = root / split / CIFAR10_CLASSES[label] / f"{counters[label]}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(image))
    return root


def _pickle_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    batch = {
        b"batch_label": b"fixture",
        b"labels": [int(label) for label in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"img_{index}.png".encode() for index in range(len(images))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def write_torchvision(root: Path, train: Images, test: Images | None = None) -> Path:
    """``root/cifar-10-batches-py/`` with five data batches, batches.meta and test_batch."""
    batch_dir = root / "cifar-10-batches-py"
    batch_dir.mkdir(parents=True)
    for index, part in enumerate(np.array_split(np.arange(len(train[1])), 5), start=1):
        _pickle_batch(batch_dir / f"data_batch_{index}", train[0][part], train[1][part])
    if test is not None:
        _pickle_batch(batch_dir / "test_batch", *test)
    meta = {b"label_names": [name.encode() for name in CIFAR10_CLASSES], b"num_vis": 3072}
    (batch_dir / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batch_dir


def write_7z(path: Path, members: dict[str, bytes]) -> Path:
    """A 7z archive holding ``members`` in the given order."""
    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return path


def write_kaggle(root: Path, train: Images, test_images: np.ndarray | None = None, *, extracted: bool = False) -> Path:
    """Kaggle's files: ``train.7z`` (train/<id>.png, ids from 1), ``trainLabels.csv``, ``test.7z``.

    ``extracted`` writes the train images to a ``train/`` folder instead of ``train.7z``.
    """
    root.mkdir(parents=True, exist_ok=True)
    images, labels = train
    members = {f"train/{index}.png": png_bytes(image) for index, image in enumerate(images, start=1)}
    if extracted:
        for name, data in members.items():
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_bytes(data)
    else:
        write_7z(root / "train.7z", members)
    rows = [(index, CIFAR10_CLASSES[label]) for index, label in enumerate(labels, start=1)]
    write_labels_csv(root / "trainLabels.csv", rows)
    if test_images is not None:
        test = {f"test/{index}.png": png_bytes(image) for index, image in enumerate(test_images, start=1)}
        write_7z(root / "test.7z", test)
    return root


def write_labels_csv(path: Path, rows: list[tuple[object, str]]) -> None:
    """A ``trainLabels.csv`` with Kaggle's header and the given rows."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "label"])
        writer.writerows(rows)


def archive_dir(src: Path, dest: Path, *, top: str | None = None) -> Path:
    """Pack the contents of ``src`` into ``dest`` (.tar.gz/.tgz/.tar/.zip/.7z), under ``top/`` if given."""
    files = sorted(path for path in src.rglob("*") if path.is_file())

    def arcname(path: Path) -> str:
        rel = path.relative_to(src).as_posix()
        return f"{top}/{rel}" if top else rel

    name = dest.name
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(dest, "w:gz" if not name.endswith(".tar") else "w") as tar:
            for path in files:
                tar.add(path, arcname=arcname(path))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, arcname(path))
    elif name.endswith(".7z"):
        write_7z(dest, {arcname(path): path.read_bytes() for path in files})
    else:
        raise ValueError(f"unknown archive type {dest}")
    return dest
