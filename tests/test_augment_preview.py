"""The preview grid shows originals above augmented images, with CutMix patches outlined."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cifar_core.augment import AugmentConfig, AugmentPipeline
from cifar_core.augment.preview import MAX_COLUMNS, PATCH_OUTLINE, render_grid
from cifar_core.classes import CIFAR10_CLASSES


def _records(box: list[int]) -> list[dict]:
    return [
        {
            "index": 0,
            "ops": [{"op": "cutmix", "box": box, "partner": 1, "source": "batch", "weight": 0.25}],
            "label_weights": {3: 0.75, 5: 0.25},
        }
    ]


def test_grid_puts_the_original_above_the_upscaled_augmented_image() -> None:
    original = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    original[..., 0, :] = 255  # white top row
    augmented = torch.full((1, 3, 8, 8), 0.5)  # float input in 0..1
    grid = render_grid(original, augmented, None, CIFAR10_CLASSES, scale=4)
    pixels = grid.load()
    # Find the white row of the original tile, then check the grey augmented tile 32 px below it.
    x, y = next((x, y) for y in range(grid.height) for x in range(grid.width) if pixels[x, y] == (255, 255, 255))
    assert pixels[x + 3, y + 3] == (255, 255, 255) and pixels[x, y + 4] == (0, 0, 0)
    assert pixels[x + 5, y + 32 + 2 + 5] == (128, 128, 128)


def test_cutmix_box_is_outlined_on_the_augmented_tile() -> None:
    images = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    plain = render_grid(images, images, _records([0, 0, 0, 0]), CIFAR10_CLASSES, scale=4)
    boxed = render_grid(images, images, _records([2, 2, 6, 6]), CIFAR10_CLASSES, scale=4)
    assert plain.size == boxed.size

    def outline_pixels(image) -> int:
        return int((np.asarray(image) == PATCH_OUTLINE).all(axis=-1).sum())

    assert outline_pixels(boxed) > 0 and outline_pixels(plain) == 0


def test_grid_wraps_into_rows_and_has_room_for_captions() -> None:
    count = MAX_COLUMNS + 3
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8)
    result = AugmentPipeline(AugmentConfig.study(1.0, 1.0))(images, torch.arange(count) % 10, torch.Generator().manual_seed(0), record=True)
    with_captions = render_grid(images, result.images, result.records, CIFAR10_CLASSES, scale=2)
    without = render_grid(images, result.images, None, CIFAR10_CLASSES, scale=2)
    assert with_captions.width == without.width > MAX_COLUMNS * 64
    assert with_captions.height > without.height > 2 * 2 * 64  # two rows of cells, each two tiles high


def test_mismatched_batches_are_refused() -> None:
    with pytest.raises(ValueError, match="originals and augmented"):
        render_grid(torch.zeros(2, 3, 8, 8), torch.zeros(1, 3, 8, 8), None, CIFAR10_CLASSES)
