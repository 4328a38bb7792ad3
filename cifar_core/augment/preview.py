"""Render originals above their augmented versions, so a person can check what training sees.

Used by the ``augment`` CLI command (the app's lab draws its own cards from the same records).
Tiles are upscaled with nearest neighbour (no smoothing that would hide what the ops did), CutMix
patches are outlined and each cell is captioned with the ops applied and the largest label
weights, all read from the pipeline's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from cifar_core.augment.box import Box
from cifar_core.augment.ops import REGISTRY

BACKGROUND = (246, 246, 246)
TEXT = (20, 20, 20)
PATCH_OUTLINE = (255, 214, 0)
PATCH_SHADOW = (0, 0, 0)
MAX_COLUMNS = 8
PAD = 6
TOP_CLASSES = 2


def render_grid(
    originals: Tensor,
    augmented: Tensor,
    records: Sequence[dict[str, Any]] | None,
    classes: Sequence[str],
    scale: int = 4,
) -> Image.Image:
    """One cell per image: original on top, augmented below, then a caption.

    ``originals``/``augmented`` are ``[B, C, H, W]`` uint8 (0..255) or float (0..1); ``records``
    are ``AugmentResult.records`` (``None`` draws no outlines or captions).
    """
    if originals.shape != augmented.shape or originals.dim() != 4:
        raise ValueError(f"originals and augmented must both be [B, C, H, W], got {tuple(originals.shape)} and {tuple(augmented.shape)}.")
    count, _, height, width = originals.shape
    font = _font(max(10, 3 * scale))
    line_height = font.getbbox("Ag")[3] + 3
    tile_w, tile_h = width * scale, height * scale
    captions = [_caption(record, classes, font, tile_w) for record in records] if records else [[]] * count
    caption_h = line_height * max((len(lines) for lines in captions), default=0)
    columns = max(1, min(count, MAX_COLUMNS))
    rows = -(-count // columns)
    header_h = line_height + PAD
    cell_w, cell_h = tile_w + PAD, 2 * tile_h + PAD + caption_h + PAD

    canvas = Image.new("RGB", (PAD + columns * cell_w, header_h + rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((PAD, PAD // 2), "top: original  |  bottom: augmented  |  yellow box: CutMix patch", fill=TEXT, font=font)
    for position, (original, changed) in enumerate(zip(_to_pil(originals), _to_pil(augmented))):
        x = PAD + (position % columns) * cell_w
        y = header_h + (position // columns) * cell_h
        canvas.paste(original.resize((tile_w, tile_h), Image.NEAREST), (x, y))
        canvas.paste(changed.resize((tile_w, tile_h), Image.NEAREST), (x, y + tile_h + 2))
        if records:
            _outline_patches(draw, records[position], x, y + tile_h + 2, scale)
        for line_number, line in enumerate(captions[position]):
            draw.text((x, y + 2 * tile_h + PAD + line_number * line_height), line, fill=TEXT, font=font)
    return canvas


def _to_pil(images: Tensor) -> list[Image.Image]:
    """``[B, C, H, W]`` (uint8 or float in 0..1, 1 or 3 channels) to RGB PIL images."""
    images = images.detach().cpu()
    if images.is_floating_point():
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return [Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()) for image in images]


def _outline_patches(draw: ImageDraw.ImageDraw, record: dict[str, Any], x: int, y: int, scale: int) -> None:
    """Outline each CutMix patch (its record's ``Box``) on the augmented tile at ``(x, y)``."""
    for op in record["ops"]:
        if op["op"] == "cutmix":
            box = Box.of(op["box"])
            if box.area:
                shape = box.outline(scale, (x, y))
                draw.rectangle(shape, outline=PATCH_SHADOW, width=3)
                draw.rectangle(shape, outline=PATCH_OUTLINE, width=2)


def _caption(record: dict[str, Any], classes: Sequence[str], font: ImageFont.ImageFont, width: int) -> list[str]:
    """The ops applied (wrapped to the tile width), then the top label weights."""
    tags = [_tag(op) for op in record["ops"]] or ["(none)"]
    lines: list[str] = []
    for tag in tags:
        if lines and font.getlength(f"{lines[-1]} {tag}") <= width:
            lines[-1] = f"{lines[-1]} {tag}"
        else:
            lines.append(tag)
    top = sorted(record["label_weights"].items(), key=lambda item: -item[1])[:TOP_CLASSES]
    lines += [f"{classes[int(cls)]} {weight:.2f}" for cls, weight in top]
    return lines


def _tag(op: dict[str, Any]) -> str:
    """A few characters per op, e.g. ``rot90``, ``crop``, ``shift+3,-5``, ``cutmix .28`` (the op's spec says which)."""
    spec = REGISTRY.get(op["op"])
    return op["op"] if spec is None else spec.tag(op)


def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` (scalable since Pillow 10.1; bitmap fallback before)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
