"""Pure batched image operations: every image in the batch gets its own parameters.

These functions take already-sampled parameters (one row per image) and apply them to all images
they are given, with batched tensor ops only - no per-image Python loop. Keeping them free of
randomness is what lets a preview replay exactly what training applied, and lets tests compare
each op with ``torchvision.transforms.v2.functional`` on single images with the same parameters.

Images are ``[B, C, H, W]``, uint8 or floating point, on any device. The output has the input's
dtype; uint8 results of interpolating ops are rounded and clamped to 0..255. Parameter tensors
may live on another device (e.g. sampled on a CPU generator); they are moved as needed.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as nnf

from cifar_core.augment.ops.translate import PADDING_MODES  # declared with the op, whose config check needs no torch


def rotate90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate image ``b`` by ``k[b]`` quarter turns counter-clockwise (torchvision's direction).

    Exact (no interpolation). Images are grouped by their number of turns, so the work is one
    ``rot90`` per distinct turn count rather than one per image. Odd turns need square images,
    because the batch must keep one shape.
    """
    k = torch.remainder(k.to(torch.long).cpu(), 4)
    height, width = images.shape[-2:]
    if height != width and bool((k % 2 == 1).any()):
        raise ValueError(f"Rotating by 90 or 270 degrees needs square images, got {height}x{width}.")
    out = images.clone()
    for turns in (1, 2, 3):
        index = (k == turns).nonzero().squeeze(1).to(images.device)
        if index.numel():
            out.index_copy_(0, index, torch.rot90(images.index_select(0, index), turns, dims=(-2, -1)))
    return out


def rotate(images: Tensor, angles: Tensor) -> Tensor:
    """Rotate image ``b`` by ``angles[b]`` degrees counter-clockwise about its centre.

    Multiples of 90 degrees take the exact ``rotate90`` path; any other angle is resampled with
    one batched ``affine_grid``/``grid_sample`` (bilinear, outside filled with 0), like
    ``torchvision.transforms.v2.functional.rotate`` with ``expand=False``.
    """
    angles = angles.cpu().to(torch.float64)
    quarter = torch.remainder(angles, 90.0) == 0
    turns = torch.where(quarter, torch.div(angles, 90.0, rounding_mode="floor"), 0).to(torch.long)
    out = rotate90(images, turns)
    index = (~quarter).nonzero().squeeze(1)
    if index.numel():
        device_index = index.to(images.device)
        rotated = _rotate_bilinear(images.index_select(0, device_index), angles[index])
        out.index_copy_(0, device_index, rotated)
    return out


def _rotate_bilinear(images: Tensor, angles: Tensor) -> Tensor:
    """Bilinear rotation with zero fill via a per-sample affine grid (inverse mapping)."""
    height, width = images.shape[-2:]
    radians = torch.deg2rad(angles)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # Output pixel -> input pixel is the clockwise rotation; normalised coordinates scale x by
    # 2/W and y by 2/H, hence the aspect factors on the off-diagonal terms.
    theta = torch.stack(
        [
            torch.stack([cos, -sin * height / width, zero], dim=1),
            torch.stack([sin * width / height, cos, zero], dim=1),
        ],
        dim=1,
    )
    floats = _as_float(images)
    grid = nnf.affine_grid(theta.to(floats.dtype).to(images.device), list(floats.shape), align_corners=False)
    rotated = nnf.grid_sample(floats, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return _restore_dtype(rotated, images.dtype)


def resized_crop(images: Tensor, boxes: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Crop ``boxes[b] = (top, left, height, width)`` from image ``b`` and resize it to ``size``.

    Matches ``torchvision.transforms.v2.functional.resized_crop`` with bilinear interpolation and
    antialiasing. Crops of different sizes cannot share one ``interpolate`` call, but antialiased
    bilinear resizing is separable and linear, so each crop-and-resize is ``Wy @ image @ Wx^T``
    with per-image weight matrices that are zero outside the box: two batched matmuls for the
    whole batch. Working in ``[B, H, C, W]`` layout lets both be plain ``bmm`` calls on views
    (no broadcast copies), which is several times faster on CPU.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    count, channels, height, width = images.shape
    boxes = boxes.to(device=images.device, dtype=torch.long)
    work_dtype = images.dtype if images.is_floating_point() else torch.float32
    rows = _antialias_weights(boxes[:, 0], boxes[:, 2], height, out_h, work_dtype)
    cols = _antialias_weights(boxes[:, 1], boxes[:, 3], width, out_w, work_dtype)
    by_row = torch.empty((count, height, channels, width), dtype=work_dtype, device=images.device)
    by_row.copy_(images.permute(0, 2, 1, 3))
    resized_rows = torch.bmm(rows, by_row.view(count, height, channels * width))
    resized = torch.bmm(resized_rows.view(count, out_h * channels, width), cols.transpose(1, 2))
    resized = _round_if_integer(resized, images.dtype).view(count, out_h, channels, out_w)
    out = torch.empty((count, channels, out_h, out_w), dtype=images.dtype, device=images.device)
    return out.copy_(resized.permute(0, 2, 1, 3))


def _antialias_weights(start: Tensor, length: Tensor, in_size: int, out_size: int, dtype: torch.dtype) -> Tensor:
    """``[B, out_size, in_size]`` weights of PyTorch's antialiased bilinear resize of a 1-D crop.

    Mirrors ``upsample_bilinear2d_aa``: output pixel ``i`` is centred at ``scale * (i + 0.5)`` in
    crop coordinates and uses a triangle filter stretched by ``scale`` when downsampling, with the
    weights inside the crop normalised to sum to 1.
    """
    device = start.device
    scale = (length.to(dtype) / out_size).view(-1, 1, 1)
    support = scale.clamp(min=1.0)  # the filter widens only when downsampling
    # Everything is scaled by 1/support on the small per-row tensors, and pixels outside the crop
    # are moved to infinity (weight 0), so the full [B, out, in] work is a handful of in-place ops.
    pixel = torch.arange(in_size, device=device).view(1, 1, -1) - start.view(-1, 1, 1)
    outside = (pixel < 0) | (pixel >= length.view(-1, 1, 1))
    pixel = ((pixel.to(dtype) + 0.5) / support).masked_fill_(outside, float("inf"))
    centre = scale * (torch.arange(out_size, device=device, dtype=dtype).view(1, -1, 1) + 0.5) / support
    weights = (pixel - centre).abs_().neg_().add_(1.0).clamp_(min=0.0)
    return weights.div_(weights.sum(dim=-1, keepdim=True))


def translate(images: Tensor, shifts: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Shift image ``b`` right by ``shifts[b, 0]`` and down by ``shifts[b, 1]`` whole pixels.

    ``zeros`` matches torchvision's ``affine`` with ``angle=0``, an integer ``translate``, nearest
    interpolation and fill 0. ``reflect`` fills the uncovered border with the image mirrored at its
    edge (the edge pixel not repeated, as ``torch.nn.functional.pad(mode="reflect")``), the speed
    records' padding: no black bars for the network to learn about. Either is one gather with exact
    copies (no resampling); reflect needs shifts smaller than the image.
    """
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {', '.join(PADDING_MODES)}; got {padding_mode!r}.")
    count, channels, height, width = images.shape
    shifts = shifts.to(device=images.device, dtype=torch.long)
    src_y = torch.arange(height, device=images.device).view(1, -1) - shifts[:, 1:2]
    src_x = torch.arange(width, device=images.device).view(1, -1) - shifts[:, 0:1]
    if padding_mode == "reflect":
        src_y, src_x = _reflect(src_y, height), _reflect(src_x, width)
    valid = ((src_y >= 0) & (src_y < height)).unsqueeze(2) & ((src_x >= 0) & (src_x < width)).unsqueeze(1)
    source = src_y.clamp(0, height - 1).unsqueeze(2) * width + src_x.clamp(0, width - 1).unsqueeze(1)
    flat_index = source.view(count, 1, height * width).expand(count, channels, height * width)
    moved = images.reshape(count, channels, height * width).gather(2, flat_index).view_as(images)
    return moved if padding_mode == "reflect" else moved.masked_fill(~valid.unsqueeze(1), 0)


def _reflect(index: Tensor, size: int) -> Tensor:
    """Mirror out-of-range indices at the edges (-1 -> 1, size -> size - 2); valid for |shift| < size."""
    if size == 1:
        return torch.zeros_like(index)
    return (size - 1) - ((size - 1) - index.abs()).abs()


def hflip(images: Tensor) -> Tensor:
    """Mirror every image left to right."""
    return images.flip(-1)


def box_mask(boxes: Tensor, height: int, width: int) -> Tensor:
    """``[B, 1, H, W]`` bool mask of ``boxes[b] = (top, left, bottom, right)`` (half-open, as ``box.Box``), from comparisons."""
    device = boxes.device
    rows = torch.arange(height, device=device).view(1, -1)
    cols = torch.arange(width, device=device).view(1, -1)
    in_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 2:3])
    in_cols = (cols >= boxes[:, 1:2]) & (cols < boxes[:, 3:4])
    return (in_rows.unsqueeze(2) & in_cols.unsqueeze(1)).unsqueeze(1)


def box_area_fraction(boxes: Tensor, height: int, width: int) -> Tensor:
    """Fraction of the image each half-open ``(top, left, bottom, right)`` box covers, float64 on the CPU."""
    sides = (boxes[:, 2:4] - boxes[:, 0:2]).clamp(min=0).cpu().to(torch.float64)
    return sides[:, 0] * sides[:, 1] / (height * width)


def cutout(images: Tensor, boxes: Tensor) -> Tensor:
    """Zero the pixels of ``boxes[b] = (top, left, bottom, right)`` (half-open) in image ``b`` (all channels)."""
    height, width = images.shape[-2:]
    return images.masked_fill(box_mask(boxes.to(images.device), height, width), 0)


def paste_boxes(images: Tensor, sources: Tensor, boxes: Tensor) -> Tensor:
    """Copy the region ``boxes[b]`` of ``sources[b]`` onto the same region of ``images[b]``.

    The pixel operation of CutMix: pixels come unchanged from one image or the other.
    """
    height, width = images.shape[-2:]
    return torch.where(box_mask(boxes.to(images.device), height, width), sources, images)


def blend(images: Tensor, sources: Tensor, weights: Tensor) -> Tensor:
    """``(1 - w[b]) * images[b] + w[b] * sources[b]``: the pixel operation of MixUp."""
    floats = _as_float(images)
    w = weights.to(floats.dtype).to(images.device).view(-1, 1, 1, 1)  # cast first: MPS has no float64
    return _restore_dtype(floats + w * (_as_float(sources) - floats), images.dtype)


def _as_float(images: Tensor) -> Tensor:
    return images if images.is_floating_point() else images.to(torch.float32)


def _restore_dtype(values: Tensor, dtype: torch.dtype) -> Tensor:
    """Back to the caller's dtype; integer results are rounded and clamped to the dtype's range."""
    return values if values.dtype == dtype else _round_if_integer(values, dtype).to(dtype)


def _round_if_integer(values: Tensor, dtype: torch.dtype) -> Tensor:
    """Round and clamp float ``values`` in place when they are headed for integer ``dtype``."""
    if dtype.is_floating_point:
        return values
    info = torch.iinfo(dtype)
    return values.round_().clamp_(info.min, info.max)


__all__ = [
    "blend",
    "box_area_fraction",
    "box_mask",
    "cutout",
    "hflip",
    "paste_boxes",
    "resized_crop",
    "rotate",
    "rotate90",
    "translate",
]
