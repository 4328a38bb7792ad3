"""Input adapters that live inside each model.

Every model takes float images in [0, 1] at 32x32 and does its own resizing and normalisation,
so training, evaluation, prediction and the app feed all models the same way and a checkpoint
carries everything needed to reproduce its predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class Preprocess(nn.Module):
    """Resize (optionally) and normalise a [B, 3, H, W] float batch in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], resize_to: int | None = None):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.resize_to = resize_to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize_to is not None and x.shape[-1] != self.resize_to:
            x = F.interpolate(x, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
