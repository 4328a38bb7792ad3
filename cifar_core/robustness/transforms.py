"""Batched, seeded image transforms at fixed strengths: the lab's geometric operations and CIFAR-10-C's corruptions.

Every transform takes uint8 images [N, 3, H, W] and a severity (1-based index into its
strengths) and returns uint8 images of the same shape. Random corruptions draw from a generator
seeded from ``BASE_SEED``, the transform's name and the severity, so every run, model and call
scores exactly the same corrupted images: robustness numbers of two runs are paired.

Corruption definitions and severity parameters follow ``make_cifar_c.py`` of Hendrycks &
Dietterich (ICLR 2019), built from torchvision functional ops. Where ours differ the docstring
says how; the numbers are therefore close to, not identical with, the published CIFAR-10-C files.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF
from torchvision.io import decode_jpeg, encode_jpeg

BASE_SEED = 20190506
"""One fixed seed from which each transform's own seed is derived (ICLR 2019's first day)."""


def _generator(name: str, severity: int) -> torch.Generator:
    # crc32, not hash(): Python salts str hashes per process, which would change the images per run
    return torch.Generator().manual_seed(BASE_SEED + zlib.crc32(f"{name}:{severity}".encode()))


def _to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float().div(255)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


# geometric ------------------------------------------------------------------------------------
def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Quarter turns are exact pixel permutations (``rot90``), so 180° twice is the identity."""
    turns = int(degrees) // 90
    if degrees % 90 == 0:
        return torch.rot90(images, k=turns, dims=(-2, -1))
    return TF.rotate(images, degrees)


def shift(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Moves the picture ``pixels`` right and down; the uncovered border is zero (black), as a camera would miss it."""
    return TF.affine(images, angle=0.0, translate=[pixels, pixels], scale=1.0, shear=[0.0, 0.0])


def centre_crop(images: torch.Tensor, scale: float) -> torch.Tensor:
    """The central ``scale`` fraction of each side, resized back to full size (a zoom-in, as RandomResizedCrop makes)."""
    size = images.shape[-1]
    side = max(1, round(size * scale))
    return TF.resize(TF.center_crop(images, [side, side]), [size, size], antialias=True)


# corruptions (CIFAR-10-C) ---------------------------------------------------------------------
def gaussian_noise(images: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """x + N(0, std²) on [0, 1], clipped: CIFAR-10-C's definition."""
    x = _to_float(images)
    return _to_uint8(x + std * torch.randn(x.shape, generator=generator))


def shot_noise(images: torch.Tensor, photons: float, generator: torch.Generator) -> torch.Tensor:
    """Poisson(x · photons) / photons: fewer photons, more noise (CIFAR-10-C's definition)."""
    x = _to_float(images)
    return _to_uint8(torch.poisson(x * photons, generator=generator) / photons)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """torchvision's Gaussian blur with CIFAR-10-C's sigma; the kernel spans ±3 sigma (skimage truncates at 4)."""
    kernel = 2 * max(1, int(3 * sigma + 0.5)) + 1
    return TF.gaussian_blur(images, [kernel, kernel], [sigma, sigma])


def defocus_blur(images: torch.Tensor, radius: float, alias_blur: float) -> torch.Tensor:
    """Convolution with a disk of ``radius`` softened by a Gaussian of ``alias_blur``: CIFAR-10-C's disk kernel.

    CIFAR-10-C builds the disk on a grid of ``max(8, radius)`` and filters with OpenCV; here the
    grid is just big enough for the disk and the convolution is torch's, reflect-padded.
    """
    half = max(1, int(radius + 0.5) + 1)
    axis = torch.arange(-half, half + 1, dtype=torch.float32)
    disk = ((axis[None, :] ** 2 + axis[:, None] ** 2) <= radius**2).float()
    disk = TF.gaussian_blur(disk[None, None], [2 * half + 1, 2 * half + 1], [alias_blur, alias_blur])[0, 0]
    disk = disk / disk.sum()
    x = _to_float(images)
    channels = x.shape[1]
    padded = torch.nn.functional.pad(x, (half, half, half, half), mode="reflect")
    weight = disk.expand(channels, 1, *disk.shape).contiguous()
    return _to_uint8(torch.nn.functional.conv2d(padded, weight, groups=channels))


def contrast(images: torch.Tensor, factor: float) -> torch.Tensor:
    """(x − mean) · factor + mean, with the mean over each image's pixels and channels: CIFAR-10-C's definition.

    torchvision's ``adjust_contrast`` blends toward the mean of the greyscale image instead,
    which shifts colours; the per-image mean keeps CIFAR-10-C's numbers.
    """
    x = _to_float(images)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return _to_uint8((x - mean) * factor + mean)


def brightness(images: torch.Tensor, amount: float) -> torch.Tensor:
    """Adds ``amount`` to the HSV value channel, clipped: CIFAR-10-C's definition, via torchvision's colour conversions.

    V is the largest channel, so raising V by ``amount`` while keeping hue and saturation scales
    every channel by (V + amount) / V; done so, without a round trip through an HSV image.
    """
    x = _to_float(images)
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + amount).clamp(max=1)
    scale = torch.where(value > 0, new_value / value.clamp_min(1e-6), torch.zeros_like(value))
    # a black pixel has no hue: it becomes grey of the new value
    return _to_uint8(torch.where(value > 0, x * scale, new_value.expand_as(x)))


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip at ``quality`` (libjpeg through torchvision; CIFAR-10-C used PIL's, also libjpeg)."""
    encoded = encode_jpeg(list(images.contiguous()), quality=quality)
    return torch.stack(decode_jpeg(encoded))


def pixelate(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Down to ``factor`` of the side with box (area) filtering and back up with nearest neighbours: CIFAR-10-C's PIL BOX resize."""
    size = images.shape[-1]
    small = max(1, int(size * factor))
    down = torch.nn.functional.interpolate(images.float(), size=(small, small), mode="area")
    return TF.resize(down, [size, size], interpolation=TF.InterpolationMode.NEAREST).round().clamp(0, 255).to(torch.uint8)


# registry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transform:
    """One named transform with its strengths; ``apply(images, severity)`` with severity 1..len(strengths)."""

    name: str
    kind: str  # "geometric" or "corruption"
    strengths: tuple
    function: Callable[..., torch.Tensor]
    random: bool = False
    unit: str = ""

    @property
    def severities(self) -> range:
        return range(1, len(self.strengths) + 1)

    def apply(self, images: torch.Tensor, severity: int) -> torch.Tensor:
        if severity not in self.severities:
            raise ValueError(f"{self.name} has severities 1..{len(self.strengths)}, not {severity}.")
        strength = self.strengths[severity - 1]
        args = strength if isinstance(strength, tuple) else (strength,)
        if self.random:
            return self.function(images, *args, _generator(self.name, severity))
        return self.function(images, *args)

    def __call__(self, images: torch.Tensor, severity: int) -> torch.Tensor:
        return self.apply(images, severity)

    def label(self, severity: int) -> str:
        return f"{self.name} {self.strengths[severity - 1]}{self.unit}"


def _flip_h(images: torch.Tensor) -> torch.Tensor:
    return TF.horizontal_flip(images)


def _flip_v(images: torch.Tensor) -> torch.Tensor:
    return TF.vertical_flip(images)


def _flip(function: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor, object], torch.Tensor]:
    return lambda images, _strength: function(images)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("rotate", "geometric", (90, 180, 270), rotate, unit="°"),
        Transform("hflip", "geometric", ("mirror",), _flip(_flip_h)),
        Transform("vflip", "geometric", ("upside down",), _flip(_flip_v)),
        Transform("shift", "geometric", (2, 4, 8), shift, unit=" px"),
        Transform("crop", "geometric", (0.9, 0.75, 0.6), centre_crop, unit=" of side"),
        # CIFAR-10-C's constants (make_cifar_c.py, CIFAR variants)
        Transform("gaussian_noise", "corruption", (0.04, 0.06, 0.08, 0.09, 0.10), gaussian_noise, random=True),
        Transform("shot_noise", "corruption", (500, 250, 100, 75, 50), shot_noise, random=True, unit=" photons"),
        Transform("gaussian_blur", "corruption", (0.4, 0.6, 0.7, 0.8, 1.0), gaussian_blur, unit=" σ"),
        Transform("defocus_blur", "corruption", ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)), defocus_blur),
        Transform("contrast", "corruption", (0.75, 0.5, 0.4, 0.3, 0.15), contrast, unit="×"),
        Transform("brightness", "corruption", (0.05, 0.1, 0.15, 0.2, 0.3), brightness),
        Transform("jpeg", "corruption", (80, 65, 58, 50, 40), jpeg, unit=" quality"),
        Transform("pixelate", "corruption", (0.95, 0.9, 0.85, 0.75, 0.65), pixelate, unit=" of side"),
    )
}
"""Every transform by name. 5 geometric ops (10 settings) and 8 corruptions × 5 severities: 50 scored image sets."""

CORRUPTIONS = tuple(name for name, t in TRANSFORMS.items() if t.kind == "corruption")
GEOMETRIC = tuple(name for name, t in TRANSFORMS.items() if t.kind == "geometric")
