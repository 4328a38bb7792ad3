"""The reference study's small CNN, layer for layer.

Four stages of 2 x [Conv3x3 (same) -> ReLU -> Dropout(p) -> BatchNorm] + MaxPool2d(2) with widths
16/32/64/128 take 32x32 down to 2x2, then Flatten -> Linear(512, 128) -> ReLU -> Dropout(p) ->
Linear(128, 10). The unusual ReLU -> Dropout -> BatchNorm order is the study's and is kept so its
results can be compared.
"""

from __future__ import annotations

from torch import nn

from cifar_core.models.preprocess import CIFAR10_MEAN, CIFAR10_STD, Preprocess

STAGE_WIDTHS = (16, 32, 64, 128)


def _conv_unit(in_channels: int, out_channels: int, dropout: float) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.BatchNorm2d(out_channels),
    ]


def build_simple_cnn(dropout: float = 0.2, num_classes: int = 10) -> nn.Module:
    """Build the study's CNN (361,434 parameters for 10 classes)."""
    layers: list[nn.Module] = [Preprocess(CIFAR10_MEAN, CIFAR10_STD)]
    in_channels = 3
    for width in STAGE_WIDTHS:
        layers += _conv_unit(in_channels, width, dropout)
        layers += _conv_unit(width, width, dropout)
        layers.append(nn.MaxPool2d(2))
        in_channels = width
    layers += [
        nn.Flatten(),
        nn.Linear(STAGE_WIDTHS[-1] * 2 * 2, 128),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(128, num_classes),
    ]
    return nn.Sequential(*layers)
