"""What an explanation is about: one run's model, one split of a source, and images picked by index.

An image's ``index`` is its position in the source's split (the source's train split for a run's
``val``/``train`` images, its test split for ``test``), the same number ``evaluate``'s galleries,
``mistakes --json`` and the Evaluate page's "Explain this image" use, so it names the same image
whatever run or split seed is looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cifar_core.data import CifarData
from cifar_core.errors import DataError
from cifar_core.evaluate import LoadedModel, split_images


@dataclass(frozen=True)
class SplitImages:
    """The images of one split as a run sees them, with their source indices."""

    name: str
    images: torch.Tensor  # uint8 [N, 3, 32, 32]
    labels: torch.Tensor  # int64 [N]
    indices: torch.Tensor  # int64 [N], positions in the source split
    source_size: int

    def rows(self, wanted: Sequence[int]) -> torch.Tensor:
        """Positions in this split of the images with source indices ``wanted``, or a ``DataError``."""
        position = {int(index): row for row, index in enumerate(self.indices.tolist())}
        rows = []
        for index in wanted:
            if not 0 <= index < self.source_size:
                raise DataError(f"Image index {index} is out of range: the source's images are numbered 0 to {self.source_size - 1}.")
            if index not in position:
                raise DataError(f"Image {index} is not in this run's {self.name} split ({len(self.indices):,} images); pick one of them.")
            rows.append(position[index])
        return torch.tensor(rows, dtype=torch.long)


def source_size(data: CifarData, split: str) -> int:
    """How many images the source split behind ``split`` holds (its test split for ``test``, else train)."""
    return len(data.splits["test" if split == "test" else "train"].labels)


def split_of(loaded: LoadedModel, data: CifarData, split: str) -> SplitImages:
    """The run's ``val``/``train`` split or the source's ``test`` split; a ``DataError`` where it has none."""
    images, labels, indices = split_images(loaded.config, data, split)
    return SplitImages(split, images, labels, indices, source_size(data, split))


def parse_indices(text: str) -> list[int]:
    """``"0,5,9"`` as ``[0, 5, 9]``; a ``DataError`` sentence for anything else."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise DataError(f"Image indices must be whole numbers separated by commas, like 0,5,9; got {text!r}.")
    return [int(part) for part in parts]
