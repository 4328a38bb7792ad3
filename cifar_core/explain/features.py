"""Inside the network, CNN Explainer-style: what each stage computes for one image, and the
first layer's filters.

Which layers count as stages (and what each sees) is the model registry's ``ExplainLayers``, so
the page needs no knowledge of a network's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cifar_core.errors import ConfigError
from cifar_core.models import explain_layers
from cifar_core.models.inference import to_model_input

CHANNELS_PER_STAGE = 8


@dataclass(frozen=True)
class StageMaps:
    """The most active channels of one stage for one image, each map scaled to [0, 1]."""

    caption: str
    channels: list[int]  # which channels of the stage, most active first
    maps: torch.Tensor  # [k, H, W] in [0, 1]
    total_channels: int


def stage_maps(model: nn.Module, model_name: str, image: torch.Tensor, per_stage: int = CHANNELS_PER_STAGE) -> list[StageMaps]:
    """Feature maps of every registered stage for uint8 ``image`` [3, 32, 32], most active channels first."""
    stages = explain_layers(model_name).stages
    if not stages:
        raise ConfigError(f"Model {model_name!r} has no registered stages to show feature maps of.")
    captured: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(path).register_forward_hook(
            lambda module, inputs, output, path=path: captured.__setitem__(path, output.detach().float())
        )
        for path, _ in stages
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(to_model_input(image.unsqueeze(0), next(model.parameters()).device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    result = []
    for path, caption in stages:
        activation = captured[path][0].cpu()  # [C, H, W]
        order = activation.flatten(1).mean(dim=1).argsort(descending=True)[:per_stage]
        chosen = activation[order]
        low = chosen.flatten(1).min(dim=1).values[:, None, None]
        high = chosen.flatten(1).max(dim=1).values[:, None, None]
        scaled = ((chosen - low) / (high - low).clamp_min(1e-12)).clamp(0, 1)
        result.append(StageMaps(caption, order.tolist(), scaled, activation.shape[0]))
    return result


def first_layer_filters(model: nn.Module, model_name: str) -> np.ndarray:
    """The first convolution's filters as uint8 colour patches [F, k, k, 3], each stretched to 0-255.

    Each filter is scaled on its own (zero weight lands at mid-grey only when it is balanced), so
    what shows is its pattern of colours and edges, not its magnitude.
    """
    path = explain_layers(model_name).first_conv
    if path is None:
        raise ConfigError(f"Model {model_name!r} has no registered first convolution to show.")
    weight = model.get_submodule(path).weight.detach().float().cpu()  # [F, 3, k, k]
    flat = weight.flatten(1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    scaled = (weight - low[:, None, None, None]) / (high - low).clamp_min(1e-12)[:, None, None, None]
    return (scaled.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
