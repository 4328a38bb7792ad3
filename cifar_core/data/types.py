"""The in-memory result of loading a dataset: what every other part of the project consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cifar_core.classes import CIFAR10_CLASSES

UNLABELLED = -1
"""Label of samples whose class is unknown (the Kaggle test set)."""


# eq=False: the fields are tensors, whose ``==`` is element-wise, so identity equality is the only
# meaningful default.
@dataclass(frozen=True, eq=False)
class CifarSplit:
    """One split (train or test) as tensors ready for a DataLoader."""

    images: torch.Tensor
    """uint8 ``[N, 3, 32, 32]``, contiguous."""
    labels: torch.Tensor
    """int64 ``[N]``; ``UNLABELLED`` (-1) where the source has no label."""
    ids: list[str] | None = None
    """Sample ids where the source has them (Kaggle ids, file stems), else None."""

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.dim() != 4 or tuple(images.shape[1:]) != (3, 32, 32):
            raise ValueError(f"images must be uint8 [N,3,32,32], got {images.dtype} {list(images.shape)}")
        if labels.dtype != torch.int64 or labels.shape != (images.shape[0],):
            raise ValueError(
                f"labels must be int64 [{images.shape[0]}], got {labels.dtype} {list(labels.shape)}"
            )
        if self.ids is not None and len(self.ids) != images.shape[0]:
            raise ValueError(f"got {len(self.ids)} ids for {images.shape[0]} images")
        object.__setattr__(self, "images", images.contiguous())
        object.__setattr__(self, "labels", labels.contiguous())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def per_class(self) -> dict[str, int]:
        """Number of labelled samples of each class, in canonical class order."""
        labelled = self.labels[self.labels != UNLABELLED]
        counts = torch.bincount(labelled, minlength=len(CIFAR10_CLASSES)).tolist()
        return dict(zip(CIFAR10_CLASSES, counts, strict=True))


@dataclass(frozen=True, eq=False)
class CifarData:
    """A loaded dataset: its splits plus where it came from, for display and reproducibility."""

    format: str
    """``"torchvision"``, ``"kaggle"``, ``"image_folder"`` or ``"synthetic"``."""
    source: str
    """Resolved path of the source, or ``"synthetic"``."""
    classes: tuple[str, ...]
    splits: dict[str, CifarSplit]
    cache_path: str | None
    skipped_files: int = 0
    """Non-image files found inside the layout's folders and skipped."""

    @property
    def is_synthetic(self) -> bool:
        return self.format == "synthetic"

    def has_labels(self, split: str) -> bool:
        """True when ``split`` exists, is not empty and every one of its images has a known class.

        Kaggle's test set is all ``UNLABELLED``; a source may also ship only a test split, so
        pages ask this before training on or scoring a split.
        """
        part = self.splits.get(split)
        return part is not None and len(part) > 0 and bool((part.labels != UNLABELLED).all())

    def describe(self) -> dict:
        """A JSON-ready summary; exactly what ``data info --json`` prints."""
        splits = {}
        for name, split in self.splits.items():
            labelled = bool((split.labels != UNLABELLED).any())
            splits[name] = {"count": len(split), "per_class": split.per_class() if labelled else {}}
        return {
            "format": self.format,
            "source": self.source,
            "synthetic": self.is_synthetic,
            "splits": splits,
            "cache": self.cache_path,
            "skipped_files": self.skipped_files,
        }


@dataclass
class LoadedSplits:
    """What a layout reader hands back to the loader before it is cached and wrapped."""

    splits: dict[str, CifarSplit] = field(default_factory=dict)
    skipped_files: int = 0
