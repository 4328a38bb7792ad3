"""Our corruptions against CIFAR-10-C's own recipe, recomputed independently with numpy, scipy and PIL.

The constants and formulas below are copied from ``make_cifar_c.py`` (hendrycks/robustness,
ImageNet-C/create_c/make_cifar_c.py) and are deliberately not read from ``TRANSFORMS``: a wrong
severity constant, a wrong formula (e.g. one mean over all channels for contrast) or rounding
where the script truncates makes these tests fail.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from PIL import Image
from scipy.ndimage import gaussian_filter

from cifar_core.robustness import TRANSFORMS

CIFAR_C = {
    "gaussian_noise": [0.04, 0.06, 0.08, 0.09, 0.10],
    "shot_noise": [500, 250, 100, 75, 50],
    "gaussian_blur": [0.4, 0.6, 0.7, 0.8, 1],
    "defocus_blur": [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
    "contrast": [0.75, 0.5, 0.4, 0.3, 0.15],
    "brightness": [0.05, 0.1, 0.15, 0.2, 0.3],
    "jpeg": [80, 65, 58, 50, 40],
    "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],
}
"""Severity 1..5 of each corruption in make_cifar_c.py (``c = [...][severity - 1]``)."""


def _images() -> torch.Tensor:
    """Smooth colour images (blur and pixelate have detail to remove), two raw-noise ones and one with black and white corners."""
    generator = torch.Generator().manual_seed(5)
    noise = torch.randint(0, 256, (8, 3, 32, 32), generator=generator, dtype=torch.uint8)
    images = torch.cat([TF.gaussian_blur(noise[:6], [7, 7], [1.5, 1.5]), noise[6:]])
    images[-1, :, :4, :4], images[-1, :, -4:, -4:] = 0, 255
    return images


IMAGES = _images()
HWC = IMAGES.permute(0, 2, 3, 1).numpy()  # PIL's and the script's H×W×C layout


def _stored(x: np.ndarray) -> np.ndarray:
    """What the script saves from a float image on [0, 1]: ``np.uint8(np.clip(x, 0, 1) * 255)``, truncating."""
    return np.uint8(np.clip(x, 0, 1) * 255)


def _ours(name: str, severity: int) -> np.ndarray:
    return TRANSFORMS[name](IMAGES, severity).permute(0, 2, 3, 1).numpy()


def _assert_stored_levels(ours: np.ndarray, reference: np.ndarray) -> None:
    """``ours`` is what the script stores from the float ``reference``, except where the exact value is a whole level.

    There (flat patches under a blur, a 9-pixel box average, the brightest channel when 255·c is
    whole) float rounding in either program decides whether truncation keeps the level or drops
    one, so both are accepted; anywhere else a single level of difference fails.
    """
    scaled = np.clip(reference, 0, 1) * 255
    on_a_level = np.abs(scaled - np.round(scaled)) < 1e-6
    exact = ours == _stored(reference)
    either = on_a_level & ((ours == np.round(scaled)) | (ours == np.round(scaled) - 1))
    assert (exact | either).all(), f"{(~(exact | either)).sum()} values differ from the reference"
    assert on_a_level.mean() < 0.5, "most values must be checked exactly, or the test checks little"


def test_the_registered_strengths_are_cifar_c_s() -> None:
    for name, strengths in CIFAR_C.items():
        assert list(TRANSFORMS[name].strengths) == strengths, name


@pytest.mark.parametrize("severity", range(1, 6))
def test_contrast_uses_each_channel_s_mean(severity: int) -> None:
    c = CIFAR_C["contrast"][severity - 1]
    x = HWC / 255.0
    means = np.mean(x, axis=(1, 2), keepdims=True)  # the script's axis=(0, 1) on one H×W×C image
    _assert_stored_levels(_ours("contrast", severity), (x - means) * c + means)


@pytest.mark.parametrize("severity", range(1, 6))
def test_brightness_adds_to_hsv_value(severity: int) -> None:
    c = CIFAR_C["brightness"][severity - 1]
    hsv = rgb_to_hsv(HWC / 255.0)  # the same formulas as skimage's rgb2hsv/hsv2rgb, which the script uses
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    _assert_stored_levels(_ours("brightness", severity), hsv_to_rgb(hsv))


@pytest.mark.parametrize("severity", range(1, 6))
def test_gaussian_blur_is_skimage_s_gaussian(severity: int) -> None:
    sigma = CIFAR_C["gaussian_blur"][severity - 1]
    # skimage.filters.gaussian(x, sigma, multichannel=True) is this call: no blur across channels, edges repeated, ±4σ
    reference = np.stack([gaussian_filter(image / 255.0, sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0) for image in HWC])
    _assert_stored_levels(_ours("gaussian_blur", severity), reference)


def _cifar_c_disk(radius: float, alias_blur: float) -> np.ndarray:
    """The script's ``disk``: a normalised 17×17 disk, then cv2.GaussianBlur((3, 3), alias_blur) with OpenCV's reflect-101 border."""
    grid = np.arange(-8, 8 + 1)
    xs, ys = np.meshgrid(grid, grid)
    disk = np.array((xs**2 + ys**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    taps = np.exp(-0.5 * np.arange(-1, 2) ** 2 / alias_blur**2)
    taps /= taps.sum()
    padded = np.pad(disk, 1, mode="reflect")
    rows = sum(taps[i] * padded[i : i + 17, :] for i in range(3))
    return sum(taps[j] * rows[:, j : j + 17] for j in range(3))


def _filter2d(channel: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cv2.filter2D(channel, -1, kernel): correlation with the kernel centred, border reflect-101 (numpy's ``reflect``)."""
    half = kernel.shape[0] // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(channel, half, mode="reflect"), kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


@pytest.mark.parametrize("severity", range(1, 6))
def test_defocus_blur_is_the_anti_aliased_disk(severity: int) -> None:
    kernel = _cifar_c_disk(*CIFAR_C["defocus_blur"][severity - 1])
    reference = np.stack([np.stack([_filter2d(image[..., d] / 255.0, kernel) for d in range(3)], axis=-1) for image in HWC])
    _assert_stored_levels(_ours("defocus_blur", severity), reference)


@pytest.mark.parametrize("severity", range(1, 6))
def test_jpeg_and_pixelate_equal_pil_byte_for_byte(severity: int) -> None:
    quality, factor = CIFAR_C["jpeg"][severity - 1], CIFAR_C["pixelate"][severity - 1]
    jpeg_reference, pixelate_reference = [], []
    for image in HWC:
        picture, buffer = Image.fromarray(image), io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        jpeg_reference.append(np.array(Image.open(buffer)))
        small = picture.resize((int(32 * factor), int(32 * factor)), Image.BOX)
        pixelate_reference.append(np.array(small.resize((32, 32), Image.BOX)))
    assert np.array_equal(_ours("jpeg", severity), np.stack(jpeg_reference))
    assert np.array_equal(_ours("pixelate", severity), np.stack(pixelate_reference))


def test_shot_noise_has_poisson_spread() -> None:
    """Poisson(x·c)/c has mean x and variance x/c: on a mid-grey image the spread pins c."""
    grey = torch.full((64, 3, 32, 32), 128, dtype=torch.uint8)
    x = 128 / 255
    for severity, photons in enumerate(CIFAR_C["shot_noise"], start=1):
        noisy = TRANSFORMS["shot_noise"](grey, severity).double() / 255
        assert noisy.std().item() == pytest.approx((x / photons) ** 0.5, rel=0.05)
        # truncation to uint8 lowers the mean by half a level on average
        assert noisy.mean().item() == pytest.approx(x - 0.5 / 255, abs=0.002)
