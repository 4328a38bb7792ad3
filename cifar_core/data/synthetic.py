"""A small, procedurally drawn stand-in for CIFAR-10, for demos and tests without real data.

Each class has its own shape and colour (a disc for "airplane", stripes for "cat", …) drawn at a
random position and size on a random background with pixel noise, so a small CNN learns it in
seconds while the task is not trivially constant. It is labelled ``synthetic`` everywhere and is
only ever used when asked for by name.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch

from cifar_core.classes import CIFAR10_CLASSES, NUM_CLASSES
from cifar_core.data.types import CifarData, CifarSplit
from cifar_core.errors import ConfigError

FORMAT = "synthetic"
SOURCE = "synthetic"

_SIZE = 32
_YY, _XX = np.mgrid[0:_SIZE, 0:_SIZE]


def _shape_masks(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean ``[n, 32, 32]`` foreground masks of class ``label``'s shape."""
    cy, cx = (rng.uniform(11, 21, size=(2, n, 1, 1)))
    radius = rng.uniform(6, 10, size=(n, 1, 1))
    period = rng.integers(3, 6, size=(n, 1, 1))
    phase = rng.integers(0, 6, size=(n, 1, 1))
    dy, dx = _YY - cy, _XX - cx
    dist = np.hypot(dy, dx)
    box = np.maximum(np.abs(dy), np.abs(dx))
    inside = box <= radius
    masks = {
        0: dist <= radius,  # disc
        1: box <= radius * 0.8,  # filled square
        2: (dist <= radius) & (dist >= radius * 0.55),  # ring
        3: ((_YY + phase) // period) % 2 == 0,  # horizontal stripes
        4: ((_XX + phase) // period) % 2 == 0,  # vertical stripes
        5: inside & ((np.abs(dy) <= radius / 3) | (np.abs(dx) <= radius / 3)),  # plus sign
        6: ((_YY + _XX + phase) // period) % 2 == 0,  # diagonal stripes
        7: (((_YY + phase) // period) + ((_XX + phase) // period)) % 2 == 0,  # checkerboard
        8: (np.abs(dy) <= radius) & (np.abs(dx) <= (dy + radius) / 2),  # triangle, apex up
        9: inside & (box >= radius * 0.6),  # hollow square
    }
    return np.broadcast_to(masks[label], (n, _SIZE, _SIZE))


def _draw_class(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``[n, 3, 32, 32]`` uint8 images of one class."""
    hue = (label / NUM_CLASSES + rng.normal(0, 0.015, size=n)) % 1.0
    foreground = np.array([colorsys.hsv_to_rgb(h, 0.85, 0.9) for h in hue]) * 255
    background = rng.uniform(20, 110, size=(n, 1)) + rng.normal(0, 15, size=(n, 3))
    masks = _shape_masks(label, n, rng)[:, None]
    images = np.where(masks, foreground[:, :, None, None], background[:, :, None, None])
    images = images + rng.normal(0, 12, size=images.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _draw_split(n_per_class: int, rng: np.random.Generator) -> CifarSplit:
    """Classes interleaved (sample ``i`` has label ``i % 10``), so any prefix is balanced."""
    images = np.empty((n_per_class * NUM_CLASSES, 3, _SIZE, _SIZE), dtype=np.uint8)
    for label in range(NUM_CLASSES):
        images[label::NUM_CLASSES] = _draw_class(label, n_per_class, rng)
    labels = np.tile(np.arange(NUM_CLASSES, dtype=np.int64), n_per_class)
    return CifarSplit(images=torch.from_numpy(images), labels=torch.from_numpy(labels))


def load_synthetic(n_per_class: int = 100, seed: int = 0, n_test_per_class: int = 20) -> CifarData:
    """Draw the synthetic dataset; the same arguments always give the same tensors."""
    if n_per_class < 1 or n_test_per_class < 0:
        raise ConfigError(
            f"synthetic data needs n_per_class >= 1 and n_test_per_class >= 0, "
            f"got {n_per_class} and {n_test_per_class}"
        )
    splits = {"train": _draw_split(n_per_class, np.random.default_rng([seed, 0]))}
    if n_test_per_class:
        splits["test"] = _draw_split(n_test_per_class, np.random.default_rng([seed, 1]))
    return CifarData(
        format=FORMAT, source=SOURCE, classes=CIFAR10_CLASSES, splits=splits, cache_path=None
    )
