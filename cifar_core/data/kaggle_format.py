"""The Kaggle competition layout: ``train.7z`` + ``trainLabels.csv`` (+ unlabelled ``test.7z``).

``train.7z`` may also already be extracted into a ``train/`` folder beside the CSV.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable

import numpy as np
import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data.archive import SourceTree
from cifar_core.data.decode import ProgressFn, decode_members
from cifar_core.data.names import is_image_name, natural_key, sample_ids, shown, stem
from cifar_core.data.types import UNLABELLED, CifarSplit, LoadedSplits
from cifar_core.errors import DataError

FORMAT = "kaggle"
LABELS_CSV = "trainLabels.csv"
TRAIN_ARCHIVE = "train.7z"
TEST_ARCHIVE = "test.7z"

log = logging.getLogger(__name__)

MAX_ID_DIGITS = 18
"""Kaggle's ids run to 300,000; 18 ASCII digits still fit an int64 and keep ``int()`` far from Python's
4,300-digit limit, so a hostile id is refused by us in one sentence rather than by the interpreter."""


def parse_id(text: str) -> int | None:
    """The id written in ``text`` or None: ASCII digits only, because ``str.isdigit`` also accepts '²' (which
    ``int`` rejects) and '٢' (which ``int`` silently reads as 2, pairing an image with another row's label)."""
    if not text or len(text) > MAX_ID_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def find(tree: SourceTree) -> str | None:
    """The prefix holding the Kaggle files, or None if this is not the layout."""
    for root in tree.roots():
        if any(root + marker in tree.files for marker in (LABELS_CSV, TRAIN_ARCHIVE, TEST_ARCHIVE)):
            return root
    return None


def _few(items: Iterable[object], limit: int = 5) -> str:
    """``a, b, c, … (12 in all)`` — enough to find the problem without flooding the terminal."""
    items = list(items)
    listed = ", ".join(shown(str(item)) for item in items[:limit])
    return listed if len(items) <= limit else f"{listed}, … ({len(items)} in all)"


def read_labels(data: bytes, where: str) -> dict[int, int]:
    """Parse ``trainLabels.csv`` into ``{id: class index}``, rejecting anything ambiguous."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text ({exc})") from exc
    rows = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(rows, [])]
    if header != ["id", "label"]:
        raise DataError(f"{where} must start with the header 'id,label', found {','.join(header)!r}")
    labels: dict[int, int] = {}
    duplicates: list[int] = []
    unknown: dict[str, int] = {}
    for line_number, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        sample_id = parse_id(row[0].strip()) if len(row) == 2 else None
        if sample_id is None:
            raise DataError(
                f"{where} line {line_number}: expected '<numeric id>,<class name>', "
                f"got {shown(','.join(row))[:80]!r} (an id is 1 to {MAX_ID_DIGITS} ASCII digits)"
            )
        name = row[1].strip()
        if name not in CIFAR10_CLASSES:
            unknown.setdefault(name, line_number)
            continue
        if sample_id in labels:
            duplicates.append(sample_id)
        labels[sample_id] = CIFAR10_CLASSES.index(name)
    if unknown:
        raise DataError(
            f"{where} has unknown class names {_few(repr(name) for name in unknown)} "
            f"(first on line {min(unknown.values())}); expected one of {', '.join(CIFAR10_CLASSES)}"
        )
    if duplicates:
        raise DataError(f"{where} lists these ids more than once: {_few(sorted(set(duplicates)))}")
    return labels


def _image_names(tree: SourceTree, prefix: str) -> tuple[list[str], int]:
    """Image files under ``prefix`` in natural order, and how many other files were skipped."""
    names = [name for name in tree.files if name.startswith(prefix)]
    images = sorted((name for name in names if is_image_name(name)), key=natural_key)
    return images, len(names) - len(images)


def _train_split(
    images: SourceTree,
    prefix: str,
    labels_by_id: dict[int, int],
    labels_where: str,
    resize: bool,
    progress: ProgressFn | None,
) -> tuple[CifarSplit, int]:
    """Match image files ``<id>.png`` under ``prefix`` to the CSV's ids; every one must pair up, once."""
    names, skipped = _image_names(images, prefix)
    named: dict[int, list[str]] = {}
    no_id = []
    for name in names:
        sample = parse_id(stem(name))
        if sample is not None and sample in labels_by_id:
            named.setdefault(sample, []).append(name)
        else:
            no_id.append(name)
    if no_id:
        raise DataError(f"{images.label} has images with no id in {labels_where}: {_few(no_id)}")
    if clashes := [files for files in named.values() if len(files) > 1]:
        raise DataError(
            f"{images.label} has several images for the same id ({'; '.join(_few(files) for files in clashes[:3])}), "
            f"so which one gets the label in {labels_where} is ambiguous; keep one file per id"
        )
    by_id = {sample_id: files[0] for sample_id, files in named.items()}
    missing = sorted(set(labels_by_id) - set(by_id))
    if missing:
        raise DataError(f"{labels_where} lists ids with no image in {images.label}: {_few(missing)} (expected files named <id>.png)")
    ordered_ids = sorted(by_id)
    array = decode_members(images, [by_id[i] for i in ordered_ids], resize=resize, progress=progress)
    split = CifarSplit(
        images=torch.from_numpy(array),
        labels=torch.tensor([labels_by_id[i] for i in ordered_ids], dtype=torch.int64),
        ids=[str(i) for i in ordered_ids],
    )
    return split, skipped


def _test_split(images: SourceTree, resize: bool, progress: ProgressFn | None) -> tuple[CifarSplit, int]:
    """All images of ``test.7z``, unlabelled, ids from their file names."""
    names, skipped = _image_names(images, "")
    if not names:
        raise DataError(f"{images.label} holds no .png/.jpg images")
    array = decode_members(images, names, resize=resize, progress=progress)
    split = CifarSplit(
        images=torch.from_numpy(array),
        labels=torch.from_numpy(np.full(len(names), UNLABELLED, dtype=np.int64)),
        ids=sample_ids(names),
    )
    return split, skipped


def load(tree: SourceTree, prefix: str, *, resize: bool, progress: ProgressFn | None = None) -> LoadedSplits:
    """Read the labelled train split and, when present, the unlabelled test split."""
    result = LoadedSplits()
    csv_name, archive_name, folder = prefix + LABELS_CSV, prefix + TRAIN_ARCHIVE, prefix + "train"
    has_train_images = archive_name in tree.files or folder in tree.dirs
    if csv_name in tree.files:
        if not has_train_images:
            raise DataError(f"{tree.label} has {LABELS_CSV} but no {TRAIN_ARCHIVE} (or extracted train/ folder) beside it")
        labels_where = tree.where(csv_name)
        labels_by_id = read_labels(tree.read(csv_name), labels_where)
        if archive_name in tree.files:
            with tree.open_nested(archive_name) as images:
                split, skipped = _train_split(images, "", labels_by_id, labels_where, resize, progress)
        else:
            split, skipped = _train_split(tree, folder + "/", labels_by_id, labels_where, resize, progress)
        result.splits["train"], result.skipped_files = split, skipped
    elif has_train_images:
        raise DataError(
            f"{tree.label} has {TRAIN_ARCHIVE if archive_name in tree.files else 'a train/ folder'} "
            f"but no {LABELS_CSV}; put Kaggle's trainLabels.csv (id,label) beside it"
        )
    if prefix + TEST_ARCHIVE in tree.files:
        with tree.open_nested(prefix + TEST_ARCHIVE) as images:
            split, skipped = _test_split(images, resize, progress)
        result.splits["test"] = split
        result.skipped_files += skipped
    return result
