"""Per-image random parameters for the batched ops, drawn from an explicit ``torch.Generator``.

Each sampler returns one row per image, vectorised over the batch. Parameters are drawn on the
generator's device (a CPU generator is fine for CUDA data: the ops move them), so the same seed
gives the same parameters whatever device the images are on. Keeping sampling apart from
applying (as ``torchvision.transforms.v2`` does with ``make_params``) is what makes every applied
augmentation recordable and replayable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def sample_apply_mask(count: int, p: float, generator: torch.Generator) -> Tensor:
    """Bool ``[count]``: whether each image gets the op. ``p=0`` never, ``p=1`` always."""
    return torch.rand(count, generator=generator, device=generator.device) < p


def alternate_flip_mask(indices: Tensor, epoch: int, seed: int) -> Tensor:
    """Bool ``[count]``: whether each image, named by its index in the training set, is mirrored in ``epoch``.

    The speed records' alternating flip: a fixed pseudo-random half of the images (chosen by an
    integer hash of index and seed) is mirrored on even epochs, the other half on odd ones,
    so every image is seen both ways in every pair of epochs instead of by chance.
    """
    mask32 = 0xFFFFFFFF
    mixed = (indices.to(torch.int64) + (seed & mask32) * 0x9E3779B1) & mask32
    for _ in range(2):  # a 32-bit integer hash (two multiply-xorshift rounds)
        mixed = ((mixed >> 16) ^ mixed) * 0x45D9F3B & mask32
    return (((mixed >> 16) ^ mixed) & 1).bool() ^ bool(epoch % 2)


def sample_choice(values: Sequence[float], count: int, generator: torch.Generator) -> Tensor:
    """Float64 ``[count]`` drawn uniformly from ``values`` (e.g. the allowed rotation angles)."""
    table = torch.tensor(list(values), dtype=torch.float64, device=generator.device)
    return table[torch.randint(len(table), (count,), generator=generator, device=generator.device)]


def sample_uniform(low: float, high: float, count: int, generator: torch.Generator) -> Tensor:
    """Float64 ``[count]`` uniform on ``[low, high)``."""
    unit = torch.rand(count, generator=generator, device=generator.device, dtype=torch.float64)
    return low + (high - low) * unit


def sample_randint(high: Tensor | int, count: int, generator: torch.Generator) -> Tensor:
    """Long ``[count]`` uniform on ``0..high-1``, where ``high`` may differ per image."""
    unit = torch.rand(count, generator=generator, device=generator.device, dtype=torch.float64)
    if isinstance(high, Tensor):
        high = high.to(device=generator.device, dtype=torch.float64)
    return (unit * high).floor().to(torch.long)


def sample_resized_crop_boxes(
    count: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    attempts: int = 10,
) -> Tensor:
    """Long ``[count, 4]`` boxes ``(top, left, height, width)`` with RandomResizedCrop semantics.

    Like torchvision: up to ``attempts`` tries of an area fraction uniform in ``scale`` and a
    log-uniform aspect ratio in ``ratio``; the first box that fits is placed uniformly; an image
    with no fitting try gets torchvision's centre-crop fallback. All tries are drawn at once.
    """
    area = height * width
    target_area = area * sample_uniform(scale[0], scale[1], count * attempts, generator).view(count, attempts)
    log_ratio = sample_uniform(math.log(ratio[0]), math.log(ratio[1]), count * attempts, generator)
    aspect = torch.exp(log_ratio).view(count, attempts)
    w = torch.sqrt(target_area * aspect).round().to(torch.long)
    h = torch.sqrt(target_area / aspect).round().to(torch.long)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first fitting try
    found = fits.any(dim=1)
    h = h.gather(1, first).squeeze(1)
    w = w.gather(1, first).squeeze(1)
    top = sample_randint(height - h + 1, count, generator)
    left = sample_randint(width - w + 1, count, generator)

    fallback_h, fallback_w = _centre_crop_size(height, width, ratio)
    h = torch.where(found, h, fallback_h)
    w = torch.where(found, w, fallback_w)
    top = torch.where(found, top, (height - fallback_h) // 2)
    left = torch.where(found, left, (width - fallback_w) // 2)
    return torch.stack([top, left, h, w], dim=1)


def _centre_crop_size(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback: the largest centred crop whose aspect ratio is within ``ratio``."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return int(round(width / min(ratio))), width
    if in_ratio > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


def sample_translations(count: int, height: int, width: int, translate: tuple[float, float], generator: torch.Generator) -> Tensor:
    """Long ``[count, 2]`` shifts ``(dx, dy)`` as RandomAffine draws them.

    ``dx = round(uniform(-tx * W, tx * W))`` and likewise ``dy`` with ``ty * H``.
    """
    max_dx, max_dy = translate[0] * width, translate[1] * height
    dx = sample_uniform(-max_dx, max_dx, count, generator).round()
    dy = sample_uniform(-max_dy, max_dy, count, generator).round()
    return torch.stack([dx, dy], dim=1).to(torch.long)


def sample_square_boxes(height: int, width: int, sides: Tensor, generator: torch.Generator) -> Tensor:
    """Long ``[count, 4]`` half-open boxes ``(top, left, bottom, right)`` (as ``box.Box``) of the given pixel ``sides``.

    The centre is a uniformly random pixel; the box is clipped at the border, so boxes near an
    edge cover less than ``side**2`` pixels (callers weigh by the clipped area).
    """
    count = len(sides)
    sides = sides.to(device=generator.device, dtype=torch.long)
    cy = sample_randint(height, count, generator)
    cx = sample_randint(width, count, generator)
    y0, x0 = cy - sides // 2, cx - sides // 2
    return torch.stack(
        [y0.clamp(0, height), x0.clamp(0, width), (y0 + sides).clamp(0, height), (x0 + sides).clamp(0, width)],
        dim=1,
    )


def sample_cutmix_boxes(count: int, height: int, width: int, alpha: float, generator: torch.Generator) -> Tensor:
    """Long ``[count, 4]`` CutMix boxes: a square of area fraction ``r ~ Beta(alpha, alpha)``.

    The side is ``round(sqrt(r) * size)`` (size = the shorter image side), centred uniformly and
    clipped at the border.
    """
    ratio = sample_beta(alpha, count, generator)
    sides = (ratio.sqrt() * min(height, width)).round()
    return sample_square_boxes(height, width, sides, generator)


def sample_partners(count: int, pool_size: int, generator: torch.Generator, *, permutation: bool) -> Tensor:
    """Long ``[count]`` partner indices: a random permutation (``count == pool_size``) or draws.

    A permutation of the batch pairs each image with another batch image (itself only at a fixed
    point, rarely); independent draws pick from a larger pool such as the whole training set.
    """
    if permutation:
        return torch.randperm(pool_size, generator=generator, device=generator.device)[:count]
    return torch.randint(pool_size, (count,), generator=generator, device=generator.device)


def sample_beta(alpha: float, count: int, generator: torch.Generator) -> Tensor:
    """Float64 ``[count]`` from ``Beta(alpha, alpha)``.

    ``torch.distributions`` cannot take a generator, so this draws two Gamma(alpha) variates in
    log space (Marsaglia-Tsang) and returns ``G1 / (G1 + G2)`` as a sigmoid of their log ratio,
    which stays finite for small ``alpha`` where the gammas themselves underflow.
    """
    log_gamma = _sample_log_gamma(alpha, 2 * count, generator)
    return torch.sigmoid(log_gamma[:count] - log_gamma[count:])


def _sample_log_gamma(shape: float, count: int, generator: torch.Generator) -> Tensor:
    """Float64 ``log(G)`` with ``G ~ Gamma(shape, 1)``, vectorised Marsaglia-Tsang rejection.

    Shapes below 1 use ``Gamma(a) = Gamma(a + 1) * U**(1/a)``. Each round redraws only the
    rejected samples (acceptance is above 95%), so the loop runs a handful of times per call.
    """
    device = generator.device
    boosted = shape + 1.0 if shape < 1.0 else shape
    d = boosted - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(count, dtype=torch.float64, device=device)
    pending = torch.arange(count, device=device)
    while pending.numel():
        x = torch.randn(pending.numel(), generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(pending.numel(), generator=generator, device=device, dtype=torch.float64)
        v = (1.0 + c * x) ** 3
        log_v = torch.log(v.clamp(min=torch.finfo(torch.float64).tiny))
        accept = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        out[pending[accept]] = math.log(d) + log_v[accept]
        pending = pending[~accept]
    if shape < 1.0:
        u = torch.rand(count, generator=generator, device=device, dtype=torch.float64)
        out += torch.log(u.clamp(min=torch.finfo(torch.float64).tiny)) / shape
    return out
