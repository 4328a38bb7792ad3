"""Batched forward passes over uint8 image tensors, shared by training, evaluation and the app."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cifar_core.classes import NUM_CLASSES
from cifar_core.device import autocast, memory_format


def to_model_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [B,3,32,32] (any device) -> float [0,1] on ``device`` in its preferred memory format."""
    x = images.to(device, non_blocking=True)
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    return x.contiguous(memory_format=memory_format(device))


# Test-time augmentation levels: what each test image is averaged over.
TTA_MODES = ("none", "flip", "flip_shift")
TTA_PASSES = {"none": 1, "flip": 2, "flip_shift": 6}
"""Forward passes per image at each level: what a scoring costs relative to plain inference."""

ImageProgress = Callable[[int, int], None]
"""Called after each batch with (images done, images in all): progress bars and time estimates."""


def _tta_logits(model: nn.Module, x: torch.Tensor, mode: str) -> torch.Tensor:
    """Logits of a float batch under one test-time augmentation level (see ``predict_logits``)."""
    if mode == "none":
        return model(x).float()
    flipped = (model(x).float() + model(x.flip(-1)).float()) / 2
    if mode == "flip":
        return flipped
    # one-pixel shifts up-left and down-right; the uncovered edge row/column is reflected
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    height, width = x.shape[-2:]
    shifted = [padded[..., dy : dy + height, dx : dx + width] for dy, dx in ((0, 0), (2, 2))]
    shifted_logits = [(model(s).float() + model(s.flip(-1)).float()) / 2 for s in shifted]
    return 0.5 * flipped + 0.25 * (shifted_logits[0] + shifted_logits[1])


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    device: torch.device,
    *,
    batch_size: int = 1000,
    tta: str = "none",
    precision: str = "auto",
    progress: ImageProgress | None = None,
) -> torch.Tensor:
    """Logits [N, C] (float32, CPU) in eval mode.

    Test-time augmentation averages the logits of views that cannot change a CIFAR-10 class:
    ``flip`` the image and its mirror image (2 passes), ``flip_shift`` adds both of those shifted
    one pixel up-left and down-right (6 passes, weighted half on the unshifted pair, as in the
    speed-record recipes). Each cancels part of the model's left/right and position bias.
    ``progress`` hears after every batch, so a page can show a bar instead of freezing.
    """
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}; got {tta!r}.")
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            x = to_model_input(images[start : start + batch_size], device)
            with autocast(device, precision):
                outputs.append(_tta_logits(model, x, tta).cpu())
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty(0, NUM_CLASSES)
    return torch.cat(outputs)
