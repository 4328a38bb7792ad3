"""ImageNet-pretrained MobileNetV3-Large fine-tuned on CIFAR-10, as in the reference study.

Weights come only through torchvision's weights API (download, or the torch hub cache it reads
first) or from a file the user names; offline with neither, the user gets a sentence saying
where to put the file, or to choose ``pretrained=False`` explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torchvision.models import MobileNet_V3_Large_Weights, mobilenet_v3_large

from cifar_core.errors import WeightsUnavailableError
from cifar_core.models.preprocess import Preprocess

WEIGHTS = MobileNet_V3_Large_Weights.IMAGENET1K_V1


def hub_cache_file() -> Path:
    """Where torchvision's weights API looks for (and downloads) the ImageNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(WEIGHTS.url)


def load_imagenet_state_dict(weights_path: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """Return the ImageNet state dict from ``weights_path``, the hub cache, or a download."""
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise WeightsUnavailableError(f"MobileNetV3 weights file not found: {path}")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for foreign/corrupt files
            raise WeightsUnavailableError(f"{path} is not a readable PyTorch weights file ({exc}).") from exc
    try:
        return WEIGHTS.get_state_dict(progress=True, weights_only=True, map_location="cpu")
    except Exception as exc:  # URLError, socket errors, HTTP errors: all mean "not available here"
        raise WeightsUnavailableError(
            "ImageNet weights for MobileNetV3-Large are not available offline: put "
            f"{os.path.basename(WEIGHTS.url)} (from {WEIGHTS.url}) at {hub_cache_file()}, "
            "or name a weights file (--weights FILE), or choose pretrained=False "
            f"to train from random initialisation. Download error: {exc}"
        ) from exc


def build_mobilenet_v3_large(
    dropout: float = 0.2,
    num_classes: int = 10,
    *,
    pretrained: bool = True,
    weights_path: str | None = None,
    resolution: int = 224,
    freeze_backbone: bool = False,
) -> nn.Module:
    """MobileNetV3-Large with a new head Linear(960,256) -> ReLU -> Dropout -> Linear(256,C).

    Inputs are 32x32 images in [0, 1]; they are resized to ``resolution`` (the study used 224,
    the size the ImageNet features were learned at) and normalised with the weights' mean/std.
    """
    network = mobilenet_v3_large(weights=None)
    if pretrained:
        try:
            network.load_state_dict(load_imagenet_state_dict(weights_path))
        except RuntimeError as exc:  # wrong keys or shapes
            raise WeightsUnavailableError(f"The weights file does not fit MobileNetV3-Large: {exc}") from exc
    network.classifier = nn.Sequential(
        nn.Linear(960, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(256, num_classes),
    )
    if freeze_backbone:
        for parameter in network.features.parameters():
            parameter.requires_grad_(False)
    preset = WEIGHTS.transforms()
    return nn.Sequential(Preprocess(preset.mean, preset.std, resize_to=resolution), network)
