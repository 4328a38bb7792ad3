"""Mixing ops: images and their soft labels change together, per image.

torchvision's ``v2.CutMix``/``v2.MixUp`` draw one lambda (and one box) for the whole batch and
always apply; the study needs each image to mix with its own probability, box and weight, so
these take per-image partners and parameters. The label weight of a CutMix partner is the exact
fraction of pixels pasted after clipping at the border, not the drawn area.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cifar_core.augment.functional import blend, box_area_fraction, paste_boxes


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float32 ``[B, num_classes]`` one-hot rows: the soft labels of unmixed images."""
    return torch.nn.functional.one_hot(labels.to(torch.long), num_classes).to(torch.float32)


def mix_labels(soft_labels: Tensor, partner_labels: Tensor, weights: Tensor) -> Tensor:
    """``(1 - w) * own + w * partner`` per row; rows keep summing to 1."""
    w = weights.to(soft_labels.dtype).to(soft_labels.device).view(-1, 1)  # cast first: MPS has no float64
    return soft_labels + w * (partner_labels - soft_labels)


def cutmix(
    images: Tensor, soft_labels: Tensor, partner_images: Tensor, partner_labels: Tensor, boxes: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Paste ``boxes[b]`` of ``partner_images[b]`` onto ``images[b]`` and mix the labels.

    Returns the images, the soft labels and the float64 partner weights (pasted-area fractions).
    """
    height, width = images.shape[-2:]
    weights = box_area_fraction(boxes, height, width)
    mixed = paste_boxes(images, partner_images, boxes)
    return mixed, mix_labels(soft_labels, partner_labels, weights), weights


def mixup(images: Tensor, soft_labels: Tensor, partner_images: Tensor, partner_labels: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Blend ``images[b]`` towards ``partner_images[b]`` by ``weights[b]`` and mix the labels alike."""
    return blend(images, partner_images, weights), mix_labels(soft_labels, partner_labels, weights)
