"""The image-folder layout: ``train/<class>/*.png|jpg`` and/or ``test/<class>/*``."""

from __future__ import annotations

import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data.archive import SourceTree
from cifar_core.data.decode import ProgressFn, decode_members
from cifar_core.data.names import is_image_name, natural_key, sample_ids
from cifar_core.data.types import CifarSplit, LoadedSplits
from cifar_core.errors import DataError

FORMAT = "image_folder"
SPLITS: tuple[str, ...] = ("train", "test")


def find(tree: SourceTree) -> str | None:
    """The prefix holding ``train/`` or ``test/``, or None if this is not the layout."""
    for root in tree.roots():
        if any(root + split in tree.dirs for split in SPLITS):
            return root
    return None


def _children(names: set[str], parent: str) -> list[str]:
    """Names directly inside the folder ``parent`` (which ends with ``/``)."""
    return sorted(
        name[len(parent) :] for name in names if name.startswith(parent) and "/" not in name[len(parent) :]
    )


def _check_class_folders(tree: SourceTree, split_dir: str) -> None:
    """The class folders of a split must be exactly CIFAR-10's; say which differ if not."""
    found = _children(tree.dirs, split_dir)
    if set(found) == set(CIFAR10_CLASSES):
        return
    missing = [name for name in CIFAR10_CLASSES if name not in found]
    unexpected = [name for name in found if name not in CIFAR10_CLASSES]
    details = ""
    if found and missing:
        details += f" (missing: {', '.join(missing)})"
    if unexpected:
        details += f" (unexpected: {', '.join(unexpected)})"
    if not found and any(is_image_name(name) for name in _children(tree.files, split_dir)):
        details += " (it holds images directly; a Kaggle train folder also needs trainLabels.csv beside it)"
    raise DataError(
        f"{tree.where(split_dir.rstrip('/'))} has class folders {', '.join(found) or '(none)'}; "
        f"expected exactly the CIFAR-10 classes {', '.join(CIFAR10_CLASSES)}{details}"
    )


def _split(
    tree: SourceTree, split_dir: str, resize: bool, progress: ProgressFn | None
) -> tuple[CifarSplit, int]:
    _check_class_folders(tree, split_dir)
    in_split = [name for name in tree.files if name.startswith(split_dir)]
    names: list[str] = []
    labels: list[int] = []
    for label, class_name in enumerate(CIFAR10_CLASSES):
        class_dir = f"{split_dir}{class_name}/"
        images = sorted(
            (name for name in in_split if name.startswith(class_dir) and is_image_name(name)),
            key=natural_key,
        )
        if not images:
            raise DataError(f"class folder {tree.where(class_dir.rstrip('/'))} has no .png/.jpg images")
        names += images
        labels += [label] * len(images)
    array = decode_members(tree, names, resize=resize, progress=progress)
    split = CifarSplit(
        images=torch.from_numpy(array),
        labels=torch.tensor(labels, dtype=torch.int64),
        ids=sample_ids(names),
    )
    return split, len(in_split) - len(names)


def load(
    tree: SourceTree, prefix: str, *, resize: bool, progress: ProgressFn | None = None
) -> LoadedSplits:
    """Read every split folder present; files that are not images are skipped and counted."""
    result = LoadedSplits()
    for split_name in SPLITS:
        if prefix + split_name in tree.dirs:
            split, skipped = _split(tree, f"{prefix}{split_name}/", resize, progress)
            result.splits[split_name] = split
            result.skipped_files += skipped
    return result
