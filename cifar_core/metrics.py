"""Scores shared by training (per-epoch validation) and evaluation (any labelled split)."""

from __future__ import annotations

import torch


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[true, predicted] counts."""
    flat = labels.to(torch.long) * num_classes + preds.to(torch.long)
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)
