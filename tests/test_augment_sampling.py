"""The samplers draw what torchvision (and the study) draw, per image, from the given generator."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import v2

from cifar_core.augment import sampling as S


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_apply_mask_is_never_at_p0_and_always_at_p1() -> None:
    assert not S.sample_apply_mask(10_000, 0.0, _generator()).any()
    assert S.sample_apply_mask(10_000, 1.0, _generator()).all()


@pytest.mark.parametrize("p", [0.03, 0.06, 0.5])
def test_apply_mask_fraction_matches_p_within_binomial_tolerance(p: float) -> None:
    count = 40_000
    hits = int(S.sample_apply_mask(count, p, _generator(1)).sum())
    assert abs(hits - count * p) <= 5 * math.sqrt(count * p * (1 - p))


def test_resized_crop_boxes_respect_scale_ratio_and_bounds() -> None:
    boxes = S.sample_resized_crop_boxes(5000, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), _generator())
    top, left, h, w = boxes.T
    assert ((top >= 0) & (left >= 0) & (h >= 1) & (w >= 1) & (top + h <= 32) & (left + w <= 32)).all()
    # Rounding the sides to whole pixels moves area and ratio a little past the drawn ranges.
    area = (h * w).double() / 1024
    assert area.min() >= 0.05 and area.max() <= 1.0
    ratio = w.double() / h
    assert ratio.min() >= 0.6 and ratio.max() <= 1.6


def test_resized_crop_box_distribution_matches_torchvision() -> None:
    ours = S.sample_resized_crop_boxes(4000, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), _generator(2))
    transform = v2.RandomResizedCrop(32)
    torch.manual_seed(0)
    theirs = [transform.make_params([torch.zeros(3, 32, 32)]) for _ in range(4000)]
    their_area = torch.tensor([p["height"] * p["width"] for p in theirs], dtype=torch.float64) / 1024
    their_top = torch.tensor([p["top"] for p in theirs], dtype=torch.float64)
    our_area = (ours[:, 2] * ours[:, 3]).double() / 1024
    # Both means have a standard error of about 0.0045 (area) and 0.12 (top).
    assert abs(our_area.mean() - their_area.mean()) < 0.03
    assert abs(ours[:, 0].double().mean() - their_top.mean()) < 0.8


def test_resized_crop_falls_back_to_torchvision_centre_crop_when_no_try_fits() -> None:
    # Whole-image area at aspect ratio >= 2 never fits a square image: all ten tries fail.
    boxes = S.sample_resized_crop_boxes(5, 32, 32, (1.0, 1.0), (2.0, 3.0), _generator())
    assert boxes.tolist() == [[8, 0, 16, 32]] * 5  # torchvision: w = 32, h = round(32 / 2), centred


def test_translations_are_whole_pixels_within_the_maximum_and_cover_it() -> None:
    shifts = S.sample_translations(20_000, 32, 32, (0.1, 0.4), _generator())
    dx, dy = shifts.T
    assert shifts.dtype == torch.long
    assert dx.abs().max() == 3 and dy.abs().max() == 13  # round(3.2) and round(12.8)
    assert set(dx.tolist()) == set(range(-3, 4))
    assert abs(dx.double().mean()) < 0.1 and abs(dy.double().mean()) < 0.2


def test_square_boxes_are_clipped_at_the_border() -> None:
    boxes = S.sample_square_boxes(32, 32, torch.full((5000,), 16), _generator())
    y0, x0, y1, x1 = boxes.T
    assert ((y0 >= 0) & (x0 >= 0) & (y1 <= 32) & (x1 <= 32)).all()
    sides = torch.stack([y1 - y0, x1 - x0])
    assert sides.max() == 16 and sides.min() < 16  # some boxes lose part of their side


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_beta_samples_follow_the_beta_distribution(alpha: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    samples = S.sample_beta(alpha, 20_000, _generator(3))
    assert torch.isfinite(samples).all() and (samples >= 0).all() and (samples <= 1).all()
    assert stats.kstest(samples.numpy(), stats.beta(alpha, alpha).cdf).pvalue > 0.001


def test_cutmix_boxes_have_beta_distributed_area() -> None:
    boxes = S.sample_cutmix_boxes(20_000, 32, 32, 0.3, _generator(4))
    sides = boxes[:, 2:] - boxes[:, :2]
    unclipped = (boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 2] < 32) & (boxes[:, 3] < 32)
    assert (sides[:, 0] == sides[:, 1])[unclipped].all()  # squares unless the border cut them
    # Beta(0.3, 0.3) has mean 0.5 for the drawn area fraction; clipping only removes area.
    assert ((sides[:, 0] * sides[:, 1]).double() / 1024).mean() < 0.5


def test_partners_from_a_permutation_are_distinct() -> None:
    partners = S.sample_partners(64, 64, _generator(), permutation=True)
    assert sorted(partners.tolist()) == list(range(64))
    drawn = S.sample_partners(1000, 50_000, _generator(), permutation=False)
    assert drawn.min() >= 0 and drawn.max() < 50_000


def test_samplers_are_deterministic_per_seed() -> None:
    def draw(seed: int) -> torch.Tensor:
        generator = _generator(seed)
        return torch.cat(
            [
                S.sample_resized_crop_boxes(50, 32, 32, (0.08, 1.0), (0.75, 4 / 3), generator).flatten(),
                S.sample_translations(50, 32, 32, (0.1, 0.4), generator).flatten(),
                S.sample_cutmix_boxes(50, 32, 32, 0.3, generator).flatten(),
            ]
        )

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
