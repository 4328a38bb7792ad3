"""Each config op bound to its sampler and its functional op, plus how to record it.

A runner receives only the images that drew "apply", samples their parameters and applies them.
It returns the new images and a zero-argument ``describe`` that turns the sampled parameters into
one JSON-friendly record entry per image (every region as a ``box.Box``); the pipeline calls it
only when asked to record, so training never pays for building dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cifar_core.augment import functional as F
from cifar_core.augment.box import boxes_from_corners, boxes_from_sizes
from cifar_core.augment.mix import cutmix, mixup
from cifar_core.augment.sampling import (
    sample_beta,
    sample_choice,
    sample_cutmix_boxes,
    sample_resized_crop_boxes,
    sample_square_boxes,
    sample_translations,
    sample_uniform,
)

Describe = Callable[[], list[dict[str, Any]]]
StandardRunner = Callable[[Tensor, dict[str, Any], torch.Generator], tuple[Tensor, Describe]]


@dataclass(frozen=True)
class Partners:
    """The partner of each mixed image: pixels, soft labels, and where it came from."""

    images: Tensor
    soft_labels: Tensor
    index: Tensor  # position in the batch, or in the pool
    source: str  # "batch" or "pool"


MixRunner = Callable[[Tensor, Tensor, Partners, dict[str, Any], torch.Generator], tuple[Tensor, Tensor, Describe]]


def _rotation(images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
    count = len(images)
    if params["degrees"] is not None:
        angles = sample_uniform(*params["degrees"], count, generator)
    else:
        angles = sample_choice(params["angles"], count, generator)
    return F.rotate(images, angles), lambda: [{"op": "rotation", "angle": _angle(a)} for a in angles.tolist()]


def _angle(degrees: float) -> int | float:
    return int(degrees) if float(degrees).is_integer() else round(degrees, 4)


def _resized_crop(images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
    height, width = images.shape[-2:]
    boxes = sample_resized_crop_boxes(len(images), height, width, params["scale"], params["ratio"], generator)
    cropped = F.resized_crop(images, boxes, (height, width))
    return cropped, lambda: [{"op": "resized_crop", "box": box} for box in boxes_from_sizes(boxes)]


def _translate(images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
    height, width = images.shape[-2:]
    shifts = sample_translations(len(images), height, width, params["translate"], generator)
    return F.translate(images, shifts, params["padding"]), lambda: [{"op": "translate", "shift": shift} for shift in shifts.tolist()]


def _hflip(images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
    return F.hflip(images), lambda: [{"op": "hflip"} for _ in range(len(images))]


def _cutout(images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
    height, width = images.shape[-2:]
    sides = torch.full((len(images),), params["size"], dtype=torch.long, device=generator.device)
    boxes = sample_square_boxes(height, width, sides, generator)
    return F.cutout(images, boxes), lambda: [{"op": "cutout", "box": box} for box in boxes_from_corners(boxes)]


def _cutmix(
    images: Tensor, soft_labels: Tensor, partners: Partners, params: dict[str, Any], generator: torch.Generator
) -> tuple[Tensor, Tensor, Describe]:
    height, width = images.shape[-2:]
    boxes = sample_cutmix_boxes(len(images), height, width, params["alpha"], generator)
    mixed, soft, weights = cutmix(images, soft_labels, partners.images, partners.soft_labels, boxes)

    def describe() -> list[dict[str, Any]]:
        rows = zip(boxes_from_corners(boxes), partners.index.tolist(), weights.tolist())
        return [
            {"op": "cutmix", "box": box, "partner": partner, "source": partners.source, "weight": weight} for box, partner, weight in rows
        ]

    return mixed, soft, describe


def _mixup(
    images: Tensor, soft_labels: Tensor, partners: Partners, params: dict[str, Any], generator: torch.Generator
) -> tuple[Tensor, Tensor, Describe]:
    weights = sample_beta(params["alpha"], len(images), generator)
    mixed, soft = mixup(images, soft_labels, partners.images, partners.soft_labels, weights)

    def describe() -> list[dict[str, Any]]:
        rows = zip(partners.index.tolist(), weights.tolist())
        return [{"op": "mixup", "partner": partner, "source": partners.source, "weight": w} for partner, w in rows]

    return mixed, soft, describe


STANDARD_RUNNERS: dict[str, StandardRunner] = {
    "rotation": _rotation,
    "resized_crop": _resized_crop,
    "translate": _translate,
    "hflip": _hflip,
    "cutout": _cutout,
}
MIX_RUNNERS: dict[str, MixRunner] = {"cutmix": _cutmix, "mixup": _mixup}
