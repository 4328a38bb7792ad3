"""Batched forward passes over uint8 image tensors, shared by training, evaluation and the app."""

from __future__ import annotations

import torch
from torch import nn

from cifar_core.classes import NUM_CLASSES
from cifar_core.device import autocast, memory_format


def to_model_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [B,3,32,32] (any device) -> float [0,1] on ``device`` in its preferred memory format."""
    x = images.to(device, non_blocking=True)
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    return x.contiguous(memory_format=memory_format(device))


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    device: torch.device,
    *,
    batch_size: int = 1000,
    tta: bool = False,
    precision: str = "auto",
) -> torch.Tensor:
    """Logits [N, C] (float32, CPU) in eval mode.

    With ``tta`` the logits of the image and its mirror image are averaged: a horizontal flip
    does not change a CIFAR-10 class, so the average cancels part of the model's left/right bias.
    """
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            x = to_model_input(images[start : start + batch_size], device)
            with autocast(device, precision):
                logits = model(x).float()
                if tta:
                    logits = (logits + model(x.flip(-1)).float()) / 2
            outputs.append(logits.cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty(0, NUM_CLASSES)
    return torch.cat(outputs)
