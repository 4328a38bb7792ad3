"""``fast_cnn``: a small network built to reach the study's accuracy in minutes, not hours.

Ideas taken from the CIFAR-10 speed-record nets (airbench), restated here:

* **Whitened first layer.** A frozen 2x2 convolution whose filters are the eigenvectors of the
  training images' 2x2 patch covariance, scaled to unit variance (plus their negatives, so a
  following GELU keeps both signs). The first layer then starts out decorrelating pixels, which
  the network would otherwise spend its first epochs learning.
* **Three conv groups**, each conv -> max-pool -> BN -> GELU -> conv -> BN -> GELU, so most
  convolutions run at reduced resolution; widths are a constructor argument (the GPU records use
  64/256/256, the CPU preset narrower ones).
* **Global max-pool and a bias-free linear head scaled down**, which keeps early logits small and
  training stable at high learning rates with label smoothing.
* **BatchNorm without a trained scale** (``train_bn_scale=False``): every convolution is followed
  by BN, so its output scale is fixed at 1 and only the shift learns; the convolutions become
  scale-invariant and weight decay then acts as a learning-rate controller (the recipe pairs this
  with a larger learning rate for the BN shifts, ``TrainConfig.bias_lr_scale``).
* **Identity-initialised convolutions** (``dirac_init=True``): the first ``in_channels`` filters
  of each conv start as the identity, so the untrained network already passes the whitened image
  through and early gradients are informative.

* **The whitening bias trained only at first** (``whiten_bias_epochs=N``): the frozen whitening
  filters keep a trainable bias; the records train it for the first epochs only, then freeze it
  (``on_epoch_start``, which the engine calls before every epoch, switches its gradient off).

``dropout`` is accepted for interface compatibility and applied before the head (0 by default in
its preset: the recipe regularises with augmentation and label smoothing instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cifar_core.errors import ConfigError
from cifar_core.models.preprocess import CIFAR10_MEAN, CIFAR10_STD, Preprocess

WHITEN_KERNEL = 2
PATCH_DIM = 3 * WHITEN_KERNEL * WHITEN_KERNEL  # 12 values per 2x2 RGB patch
HEAD_SCALE = 1 / 9


def _conv(in_channels: int, out_channels: int, dirac_init: bool) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    if dirac_init:
        with torch.no_grad():
            nn.init.dirac_(conv.weight[: min(in_channels, out_channels)])
    return conv


def _norm(channels: int, train_scale: bool) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels, momentum=0.4)
    norm.weight.requires_grad_(train_scale)
    return norm


class ConvGroup(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, *, dirac_init: bool = False, train_bn_scale: bool = True):
        super().__init__()
        self.conv1 = _conv(in_channels, out_channels, dirac_init)
        self.norm1 = _norm(out_channels, train_bn_scale)
        self.conv2 = _conv(out_channels, out_channels, dirac_init)
        self.norm2 = _norm(out_channels, train_bn_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class FastCNN(nn.Module):
    """Whitening conv -> 3 conv groups -> global max-pool -> scaled linear head."""

    def __init__(
        self,
        dropout: float = 0.0,
        num_classes: int = 10,
        widths: Sequence[int] = (64, 256, 256),
        *,
        dirac_init: bool = False,
        train_bn_scale: bool = True,
        whiten_bias_epochs: int | None = None,
    ):
        super().__init__()
        self.whiten_bias_epochs = whiten_bias_epochs
        self.preprocess = Preprocess(CIFAR10_MEAN, CIFAR10_STD)
        self.whiten = nn.Conv2d(3, 2 * PATCH_DIM, WHITEN_KERNEL, bias=True)
        self.whiten.weight.requires_grad_(False)
        channels = [2 * PATCH_DIM, *widths]
        self.groups = nn.Sequential(
            *(ConvGroup(a, b, dirac_init=dirac_init, train_bn_scale=train_bn_scale) for a, b in zip(channels, channels[1:]))
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], num_classes, bias=False)

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from float images in [0, 1] (a few thousand suffice)."""
        x = self.preprocess(images.float())
        patches = F.unfold(x, WHITEN_KERNEL).transpose(1, 2).reshape(-1, PATCH_DIM).double()
        patches = patches - patches.mean(dim=0)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).float()
        filters = filters.view(PATCH_DIM, 3, WHITEN_KERNEL, WHITEN_KERNEL)
        self.whiten.weight.copy_(torch.cat([filters, -filters]))

    def on_epoch_start(self, epoch: int) -> None:
        """Train the whitening bias only in epochs ``0 .. whiten_bias_epochs - 1`` (0-based)."""
        if self.whiten_bias_epochs is not None:
            self.whiten.bias.requires_grad_(epoch < self.whiten_bias_epochs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.whiten(self.preprocess(x)))
        x = self.groups(x)
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return self.head(self.dropout(x)) * HEAD_SCALE


def build_fast_cnn(
    dropout: float = 0.0,
    num_classes: int = 10,
    *,
    widths: Sequence[int] = (64, 256, 256),
    dirac_init: bool = False,
    train_bn_scale: bool = True,
    whiten_bias_epochs: int | None = None,
) -> nn.Module:
    """Build the fast recipe's network; call ``init_from_data`` before training."""
    if len(widths) != 3 or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 4096 for w in widths):
        raise ConfigError(f"fast_cnn widths must be three whole numbers between 1 and 4096; got {list(widths)!r}.")
    for name, value in (("dirac_init", dirac_init), ("train_bn_scale", train_bn_scale)):
        if not isinstance(value, bool):
            raise ConfigError(f"fast_cnn option {name} must be true or false; got {value!r}.")
    if whiten_bias_epochs is not None and (
        isinstance(whiten_bias_epochs, bool) or not isinstance(whiten_bias_epochs, int) or not 0 <= whiten_bias_epochs <= 10_000
    ):
        raise ConfigError(f"fast_cnn option whiten_bias_epochs must be a whole number of epochs (0 or more); got {whiten_bias_epochs!r}.")
    return FastCNN(
        dropout, num_classes, tuple(widths), dirac_init=dirac_init, train_bn_scale=train_bn_scale, whiten_bias_epochs=whiten_bias_epochs
    )
