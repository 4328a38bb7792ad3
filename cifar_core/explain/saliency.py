"""Saliency maps: which pixels a prediction rests on, by Grad-CAM and by occlusion (Captum).

Captum is used rather than pytorch-grad-cam because one library (the PyTorch team's) gives both
methods the page offers, a gradient one and a gradient-free one, without pulling in OpenCV; our
part is choosing the layer (the model registry's ``ExplainLayers.target``), the class to explain
and turning the attributions into 32x32 maps in [0, 1] that can be laid over the image.

Both methods passed the sanity checks of Adebayo et al. (2018) in ``tests/test_explain_saliency.py``:
a re-initialised network gives different maps, and a shifted image gives a shifted map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam, Occlusion
from PIL import Image
from torch import nn

from cifar_core.errors import ConfigError
from cifar_core.figures.images import to_hwc
from cifar_core.models import explain_layers
from cifar_core.models.inference import to_model_input

METHODS = ("gradcam", "occlusion")
OCCLUSION_WINDOW = 8
"""Grey 8x8 patches (a quarter of the image side) slid 4 pixels at a time: 49 positions."""
OCCLUSION_STRIDE = 4
OCCLUSION_BASELINE = 0.5


@dataclass(frozen=True)
class SaliencyMaps:
    """Maps [N, 32, 32] in [0, 1] for the predicted and the true class of each image."""

    predicted: torch.Tensor
    true: torch.Tensor | None


def target_layer(model: nn.Module, model_name: str) -> nn.Module:
    """The registered Grad-CAM layer of ``model``; ``ConfigError`` where the registry has none."""
    return model.get_submodule(explain_layers(model_name).target)


def _normalise(maps: torch.Tensor) -> torch.Tensor:
    """Keep positive evidence, scale each map to [0, 1] (all-zero maps stay zero)."""
    maps = maps.clamp_min(0)
    peak = maps.flatten(1).max(dim=1).values.clamp_min(1e-12)
    return (maps / peak[:, None, None]).clamp(0, 1)


def _float_model_input(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    device = next(model.parameters()).device
    return to_model_input(images, device)


def gradcam(model: nn.Module, model_name: str, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of class ``targets[i]`` for uint8 ``images[i]``: [N, 32, 32] in [0, 1], on the CPU.

    Runs in float32 (no autocast): gradients in bfloat16 are too coarse for small maps.
    """
    layer = target_layer(model, model_name)
    x = _float_model_input(model, images)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            attributions = LayerGradCam(model, layer).attribute(x, target=targets.to(x.device), relu_attributions=True)
    finally:
        model.train(was_training)
    upsampled = LayerAttribution.interpolate(attributions.detach().float(), tuple(images.shape[-2:]), "bilinear")
    return _normalise(upsampled[:, 0].cpu())


def occlusion(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How much the probability of ``targets[i]`` drops when a grey patch hides each region: [N, 32, 32] in [0, 1]."""
    x = _float_model_input(model, images)
    was_training = model.training
    model.eval()

    def probability(batch: torch.Tensor) -> torch.Tensor:
        return model(batch).float().softmax(dim=1)

    try:
        with torch.no_grad():
            attributions = Occlusion(probability).attribute(
                x,
                target=targets.to(x.device),
                sliding_window_shapes=(3, OCCLUSION_WINDOW, OCCLUSION_WINDOW),
                strides=(3, OCCLUSION_STRIDE, OCCLUSION_STRIDE),
                baselines=OCCLUSION_BASELINE,
                perturbations_per_eval=49,
            )
    finally:
        model.train(was_training)
    return _normalise(attributions.sum(dim=1).cpu())


def saliency(
    model: nn.Module, model_name: str, images: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor | None, method: str = "gradcam"
) -> SaliencyMaps:
    """Maps for the predicted class and (where labels are known) the true class of each image."""
    if method not in METHODS:
        raise ConfigError(f"Unknown saliency method {method!r}; choose {' or '.join(METHODS)}.")
    explain_layers(model_name)  # refuse models without registered layers, for both methods alike

    def one(targets: torch.Tensor) -> torch.Tensor:
        return gradcam(model, model_name, images, targets) if method == "gradcam" else occlusion(model, images, targets)

    predicted_maps = one(predicted)
    if true is None:
        return SaliencyMaps(predicted_maps, None)
    same = torch.equal(true.cpu(), predicted.cpu())
    return SaliencyMaps(predicted_maps, predicted_maps.clone() if same else one(true))


def heat_colours(saliency_map: torch.Tensor | np.ndarray) -> np.ndarray:
    """A [H, W] map in [0, 1] as [H, W, 3] uint8 colours (black → red → yellow → white, 'hot')."""
    value = np.asarray(saliency_map, dtype=np.float32).clip(0, 1)
    rgb = np.stack([value * 3, value * 3 - 1, value * 3 - 2], axis=-1).clip(0, 1)
    return (rgb * 255).round().astype(np.uint8)


def overlay(image: torch.Tensor, saliency_map: torch.Tensor, scale: int = 8, alpha: float = 0.5) -> Image.Image:
    """The image blended with its heat map, both enlarged ``scale`` times with nearest-neighbour."""
    pixels = to_hwc(image).astype(np.float32)
    blended = (1 - alpha) * pixels + alpha * heat_colours(saliency_map).astype(np.float32)
    big = np.repeat(np.repeat(blended.round().astype(np.uint8), scale, axis=0), scale, axis=1)
    return Image.fromarray(big, mode="RGB")


def saliency_grid(images: torch.Tensor, maps: SaliencyMaps, scale: int = 4, gap: int = 2) -> Image.Image:
    """One row per image: the image, its map for the predicted class, its map for the true class (blended)."""
    rows = []
    for position, image in enumerate(images):
        tiles = [np.asarray(overlay(image, torch.zeros(image.shape[-2:]), scale, alpha=0.0))]
        tiles.append(np.asarray(overlay(image, maps.predicted[position], scale)))
        if maps.true is not None:
            tiles.append(np.asarray(overlay(image, maps.true[position], scale)))
        spacer = np.full((tiles[0].shape[0], gap, 3), 255, dtype=np.uint8)
        row = np.concatenate([part for tile in tiles for part in (tile, spacer)][:-1], axis=1)
        rows += [row, np.full((gap, row.shape[1], 3), 255, dtype=np.uint8)]
    return Image.fromarray(np.concatenate(rows[:-1], axis=0), mode="RGB")
