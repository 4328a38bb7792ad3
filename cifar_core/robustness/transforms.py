"""Batched, seeded image transforms at fixed strengths: the lab's geometric operations and CIFAR-10-C's corruptions.

Every transform takes uint8 images [N, 3, H, W] and a severity (1-based index into its
strengths) and returns uint8 images of the same shape. Random corruptions draw from a generator
seeded from ``BASE_SEED``, the transform's name and the severity, so every run, model and call
scores exactly the same corrupted images: robustness numbers of two runs are paired.

Corruption definitions and severity parameters are those of ``make_cifar_c.py`` of Hendrycks &
Dietterich (ICLR 2019; hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py), reproduced in
torch in float64 and truncated to uint8 as that script stores them. JPEG and pixelate are
byte-equal to its PIL calls; contrast, brightness and the blurs equal its formulas up to float
summation order; the noises follow its formulas with torch's seeded generator instead of numpy's.
"""

from __future__ import annotations

import functools
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
    # float64, as CIFAR-10-C's numpy ``x / 255.``: its truncation to uint8 then lands on the same level
    return images.double().div(255)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1], scale to [0, 255] and truncate: CIFAR-10-C stores ``np.uint8(np.clip(x, 0, 1) * 255)``, which floors."""
    return x.clamp(0, 1).mul(255).floor().to(torch.uint8)


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
# Definitions and constants: make_cifar_c.py in github.com/hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py
# (read at commit ca360085). Each function names what it reproduces and where it cannot be identical.
def _noise_base(images: torch.Tensor) -> torch.Tensor:
    # float32 here: the noise is random, so float64's last digits would change nothing a test could
    # compare, and drawing float64 noise takes 2-6x as long
    return images.float().div(255)


def gaussian_noise(images: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """x + N(0, std²) on [0, 1], clipped: CIFAR-10-C's definition (its noise comes from numpy, ours from a seeded torch generator)."""
    x = _noise_base(images)
    return _to_uint8(x + std * torch.randn(x.shape, generator=generator))


def shot_noise(images: torch.Tensor, photons: float, generator: torch.Generator) -> torch.Tensor:
    """Poisson(x · photons) / photons, clipped: fewer photons, more noise (CIFAR-10-C's definition)."""
    x = _noise_base(images)
    return _to_uint8(torch.poisson(x * photons, generator=generator) / photons)


def _depthwise(x: torch.Tensor, kernel: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Correlate every channel of float images [N, C, H, W] with one odd-sized 2-D ``kernel``, padding by ``padding_mode``.

    An in-place sum of shifted copies, one per non-zero tap, rather than ``conv2d``: float64
    convolution has no fast CPU kernel and took 2.6x as long (1.8 s against 0.7 s for a 5×5
    kernel on 2,000 images, 2 threads, loaded machine).
    """
    rows, cols = kernel.shape
    height, width = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (cols // 2, cols // 2, rows // 2, rows // 2), mode=padding_mode)
    out = torch.zeros_like(x)
    for (i, j), weight in zip(kernel.nonzero().tolist(), kernel[kernel != 0].tolist()):
        out.add_(padded[..., i : i + height, j : j + width], alpha=weight)
    return out


def _gaussian_taps(sigma: float, radius: int) -> torch.Tensor:
    """exp(−i²/2σ²) at i = −radius..radius, summing to 1: the sampled kernel of scipy's and OpenCV's Gaussian filters."""
    taps = torch.exp(-0.5 * torch.arange(-radius, radius + 1, dtype=torch.float64) ** 2 / sigma**2)
    return taps / taps.sum()


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """skimage's ``gaussian(x, sigma, multichannel=True)`` as CIFAR-10-C calls it: scipy's filter, taps to ±int(4σ + 0.5), edges repeated.

    torchvision's ``gaussian_blur`` reflects the border instead of repeating it and takes the
    kernel size as given, so it is not used here.
    """
    taps = _gaussian_taps(sigma, int(4 * sigma + 0.5))
    x = _depthwise(_to_float(images), taps[None, :], "replicate")
    return _to_uint8(_depthwise(x, taps[:, None], "replicate"))


def _disk(radius: float, alias_blur: float) -> torch.Tensor:
    """CIFAR-10-C's ``disk``: the pixels within ``radius`` on a 17×17 grid, normalised, then OpenCV's 3×3 Gaussian blur of ``alias_blur``.

    The reference grows the grid (and a 5×5 blur) only for radii above 8; CIFAR-10-C's largest
    is 1.5. The grid's border is zero, so OpenCV's border rule does not matter, and the rows and
    columns that stay zero are cropped: the convolution is the same, only cheaper.
    """
    if radius > 8:
        raise ValueError(f"defocus_blur follows CIFAR-10-C's 17×17 disk grid, which holds radii up to 8, not {radius}.")
    axis = torch.arange(-8, 9, dtype=torch.float32)
    disk = ((axis[None, :] ** 2 + axis[:, None] ** 2) <= radius**2).float()
    disk = disk / disk.sum()
    taps = _gaussian_taps(alias_blur, 1).float()
    disk = torch.nn.functional.conv2d(disk[None, None], (taps[:, None] * taps[None, :])[None, None], padding=1)[0, 0]
    keep = int((disk != 0).any(dim=0).nonzero().min())
    return disk[keep : disk.shape[0] - keep, keep : disk.shape[1] - keep]


def defocus_blur(images: torch.Tensor, radius: float, alias_blur: float) -> torch.Tensor:
    """Each channel filtered with CIFAR-10-C's anti-aliased disk (``_disk``), borders reflected as OpenCV's ``filter2D`` does."""
    # torch's "reflect" mirrors without repeating the edge pixel: OpenCV's default BORDER_REFLECT_101
    return _to_uint8(_depthwise(_to_float(images), _disk(radius, alias_blur), "reflect"))


def contrast(images: torch.Tensor, factor: float) -> torch.Tensor:
    """(x − mean) · factor + mean with each channel's own mean over the image: CIFAR-10-C's ``np.mean(x, axis=(0, 1))`` on H×W×C.

    torchvision's ``adjust_contrast`` blends toward the mean of the greyscale image instead,
    which shifts colours.
    """
    x = _to_float(images)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return _to_uint8((x - mean) * factor + mean)


def brightness(images: torch.Tensor, amount: float) -> torch.Tensor:
    """Adds ``amount`` to the HSV value channel, clipped: CIFAR-10-C's skimage ``rgb2hsv``/``hsv2rgb`` round trip.

    V is the largest channel and, with hue and saturation kept, every channel of ``hsv2rgb`` is
    V times a function of them, so raising V scales every channel by (V + amount) / V; done so,
    without a round trip through an HSV image.
    """
    x = _to_float(images)
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + amount).clamp(max=1)
    scale = torch.where(value > 0, new_value / value.clamp_min(1e-6), torch.zeros_like(value))
    # a black pixel has no hue and saturation 0 in skimage: it becomes grey of the new value
    return _to_uint8(torch.where(value > 0, x * scale, new_value.expand_as(x)))


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip at ``quality`` through torchvision's libjpeg.

    Byte-equal to CIFAR-10-C's PIL ``save(..., 'JPEG', quality=c)`` with the installed libraries
    (tested), both calling libjpeg with its default settings.
    """
    encoded = encode_jpeg(list(images.contiguous()), quality=quality)
    return torch.stack(decode_jpeg(encoded))


@functools.lru_cache(maxsize=32)
def _box_weights(in_size: int, out_size: int) -> torch.Tensor:
    """Pillow's BOX resampling weights [out, in] (``precompute_coeffs`` in its Resample.c).

    Each output pixel averages, with equal weight, the input pixels whose centres fall in its
    footprint (the box is sampled at pixel centres, not integrated over partial pixels).
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support, step = 0.5 * filter_scale, 1.0 / filter_scale
    weights = torch.zeros(out_size, in_size)
    for out in range(out_size):
        centre = (out + 0.5) * scale
        low, high = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
        for pixel in range(low, high):
            if -0.5 < (pixel - centre + 0.5) * step <= 0.5:
                weights[out, pixel] = 1.0
        weights[out] /= weights[out].sum()
    return weights


def _pil_box_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Pillow's ``resize((size, size), BOX)`` of uint8 images: across first, each pass rounded half up to uint8 as Pillow's 8-bit path."""
    across = _box_weights(images.shape[-1], size)
    down = _box_weights(images.shape[-2], size)
    # float32 is exact here: at CIFAR-10-C's factors every weight is 1 or 1/2 and every sum a few hundred
    x = torch.floor(images.float() @ across.T + 0.5)
    return torch.floor(down @ x + 0.5).to(torch.uint8)


def pixelate(images: torch.Tensor, factor: float) -> torch.Tensor:
    """CIFAR-10-C's pixelate: PIL BOX resize to int(side · factor), then BOX resize back, both reproduced exactly (tested against PIL)."""
    size = images.shape[-1]
    return _pil_box_resize(_pil_box_resize(images, int(size * factor)), size)


# registry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transform:
    """One named transform with its strengths; ``apply(images, severity)`` with severity 1..len(strengths)."""

    name: str
    kind: str  # "geometric" or "corruption"
    strengths: tuple
    function: Callable[..., torch.Tensor]
    random: bool = False
    # a strength in words, ``str.format``-ed with the strength's values: "JPEG quality 80", not a bare "80"
    words: str = "{}"

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
        strength = self.strengths[severity - 1]
        return self.words.format(*(strength if isinstance(strength, tuple) else (strength,)))


def _flip_h(images: torch.Tensor) -> torch.Tensor:
    return TF.horizontal_flip(images)


def _flip_v(images: torch.Tensor) -> torch.Tensor:
    return TF.vertical_flip(images)


def _flip(function: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor, object], torch.Tensor]:
    return lambda images, _strength: function(images)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("rotate", "geometric", (90, 180, 270), rotate, words="rotated {}°"),
        Transform("hflip", "geometric", ("mirror",), _flip(_flip_h)),
        Transform("vflip", "geometric", ("upside down",), _flip(_flip_v)),
        Transform("shift", "geometric", (2, 4, 8), shift, words="shifted {} px"),
        Transform("crop", "geometric", (0.9, 0.75, 0.6), centre_crop, words="crop to {:.0%} of side"),
        # CIFAR-10-C's constants, checked against hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py (commit ca360085)
        Transform("gaussian_noise", "corruption", (0.04, 0.06, 0.08, 0.09, 0.10), gaussian_noise, random=True, words="noise sd {}"),
        Transform("shot_noise", "corruption", (500, 250, 100, 75, 50), shot_noise, random=True, words="shot noise, {} photons"),
        Transform("gaussian_blur", "corruption", (0.4, 0.6, 0.7, 0.8, 1.0), gaussian_blur, words="blur σ {} px"),
        Transform(
            "defocus_blur",
            "corruption",
            ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
            defocus_blur,
            words="defocus, disk radius {} px",
        ),
        Transform("contrast", "corruption", (0.75, 0.5, 0.4, 0.3, 0.15), contrast, words="contrast ×{}"),
        Transform("brightness", "corruption", (0.05, 0.1, 0.15, 0.2, 0.3), brightness, words="brightness +{}"),
        Transform("jpeg", "corruption", (80, 65, 58, 50, 40), jpeg, words="JPEG quality {}"),
        Transform("pixelate", "corruption", (0.95, 0.9, 0.85, 0.75, 0.65), pixelate, words="pixelate to {:.0%} of side"),
    )
}
"""Every transform by name. 5 geometric ops (10 settings) and 8 corruptions × 5 severities: 50 scored image sets."""

CORRUPTIONS = tuple(name for name, t in TRANSFORMS.items() if t.kind == "corruption")
GEOMETRIC = tuple(name for name, t in TRANSFORMS.items() if t.kind == "geometric")
