"""Turning 32x32 uint8 image tensors into PIL images large enough to look at.

A 32x32 image shown at its own size is a smudge, and a browser's smooth upscaling blurs exactly
the pixel-level detail (a pasted CutMix box, a one-pixel shift) a learner needs to see. So images
are upscaled here with nearest-neighbour, by whole factors, before they reach the page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from cifar_core.augment.box import Box

DEFAULT_SCALE = 6
"""32 px x 6 = 192 px: big enough to see single pixels, small enough for 16 on one screen."""


def to_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A uint8 ``[3, H, W]`` (CHW, as the library stores images) or ``[H, W, 3]`` array as HWC."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    if array.ndim != 3:
        raise ValueError(f"expected a [3, H, W] or [H, W, 3] image, got shape {array.shape}")
    if array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    return np.ascontiguousarray(array)


def upscale(image: torch.Tensor | np.ndarray, scale: int = DEFAULT_SCALE) -> Image.Image:
    """One image as an RGB PIL image ``scale`` times larger, every source pixel a sharp square."""
    if scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale}")
    array = to_hwc(image)
    big = np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)
    return Image.fromarray(big, mode="RGB")


def upscale_many(images: torch.Tensor | Sequence[torch.Tensor], scale: int = DEFAULT_SCALE) -> list[Image.Image]:
    """``upscale`` for each image of a batch ``[N, 3, H, W]`` (one batched repeat, then split)."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"expected a batch [N, 3, H, W], got shape {tuple(images.shape)}")
        batch = images.detach().cpu().permute(0, 2, 3, 1).numpy()
        big = np.repeat(np.repeat(batch, scale, axis=1), scale, axis=2)
        return [Image.fromarray(np.ascontiguousarray(one), mode="RGB") for one in big]
    return [upscale(image, scale) for image in images]


def grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    columns: int,
    scale: int = DEFAULT_SCALE,
    padding: int = 2,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Images laid out row by row in one PIL image, ``padding`` pixels apart.

    One image per row of samples sends one file to the browser instead of dozens, which keeps
    pages with many thumbnails fast.
    """
    tiles = upscale_many(images, scale)
    if not tiles:
        raise ValueError("grid needs at least one image")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    width, height = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    columns = min(columns, len(tiles))
    canvas = Image.new(
        "RGB",
        (columns * width + (columns - 1) * padding, rows * height + (rows - 1) * padding),
        background,
    )
    for position, tile in enumerate(tiles):
        row, column = divmod(position, columns)
        canvas.paste(tile, (column * (width + padding), row * (height + padding)))
    return canvas


def outline_box(
    image: Image.Image,
    box: Sequence[int],
    scale: int,
    color: tuple[int, int, int] = (255, 214, 0),
    width: int = 3,
) -> Image.Image:
    """A copy of an upscaled ``image`` with ``box`` (an augmentation record's ``Box``, or its
    ``[top, left, bottom, right]`` list) outlined.

    Coordinates are in source pixels (as the augmentation records give them); the outline is
    drawn just inside the box's upscaled edges so it does not hide neighbouring pixels.
    """
    box = Box.of(box)
    out = image.copy()
    if box.area:
        ImageDraw.Draw(out).rectangle(box.outline(scale), outline=color, width=width)
    return out
