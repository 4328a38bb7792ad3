"""The batched functional ops equal torchvision's single-image ops given the same parameters."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cifar_core.augment import functional as F

BILINEAR = InterpolationMode.BILINEAR


def _batch(count: int = 24, seed: int = 0, height: int = 32, width: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, height, width), generator=generator, dtype=torch.uint8)


def _random_boxes(count: int, height: int, width: int, seed: int = 1) -> torch.Tensor:
    """Boxes (top, left, h, w) of every size from 1 pixel to the whole image."""
    generator = torch.Generator().manual_seed(seed)
    h = torch.randint(1, height + 1, (count,), generator=generator)
    w = torch.randint(1, width + 1, (count,), generator=generator)
    top = (torch.rand(count, generator=generator) * (height - h + 1)).long()
    left = (torch.rand(count, generator=generator) * (width - w + 1)).long()
    return torch.stack([top, left, h, w], dim=1)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_rotate_by_quarter_turns_matches_torchvision_direction(dtype: torch.dtype) -> None:
    images = _batch(8).to(dtype)
    angles = torch.tensor([0.0, 90.0, 180.0, 270.0, -90.0, 360.0, 450.0, -180.0])
    expected = torch.stack([TF.rotate(image, angle.item()) for image, angle in zip(images, angles)])
    assert torch.equal(F.rotate(images, angles), expected)
    assert torch.equal(F.rotate90(images, (angles / 90).long()), expected)


def test_rotate_by_half_turn_works_on_non_square_images() -> None:
    images = _batch(2, height=20, width=32)
    assert torch.equal(F.rotate90(images, torch.tensor([2, 0])), torch.stack([images[0].flip(-1, -2), images[1]]))
    with pytest.raises(ValueError, match="square"):
        F.rotate90(images, torch.tensor([1, 0]))


@pytest.mark.parametrize("shape", [(32, 32), (20, 32)])
def test_rotate_by_arbitrary_angle_matches_torchvision_bilinear(shape: tuple[int, int]) -> None:
    images = _batch(16, height=shape[0], width=shape[1]).float() / 255
    angles = torch.linspace(-170.0, 170.0, 16)
    expected = torch.stack([TF.rotate(image, a.item(), interpolation=BILINEAR) for image, a in zip(images, angles)])
    torch.testing.assert_close(F.rotate(images, angles), expected, atol=1e-4, rtol=0)


def test_rotate_by_arbitrary_angle_keeps_uint8_within_one_of_torchvision() -> None:
    images = _batch(8)
    angles = torch.tensor([10.0, -33.0, 45.0, 100.5, 200.0, -5.0, 12.0, 89.0])
    got = F.rotate(images, angles)
    expected = torch.stack([TF.rotate(image, a.item(), interpolation=BILINEAR) for image, a in zip(images, angles)])
    assert got.dtype == torch.uint8
    assert (got.int() - expected.int()).abs().max() <= 1


@pytest.mark.parametrize("size", [(32, 32), (24, 40), (8, 8)])
def test_resized_crop_matches_torchvision_antialias_bilinear_on_float(size: tuple[int, int]) -> None:
    images = _batch(48).float() / 255
    boxes = _random_boxes(48, 32, 32)
    expected = torch.stack(
        [
            TF.resized_crop(image, *box.tolist(), size=list(size), interpolation=BILINEAR, antialias=True)
            for image, box in zip(images, boxes)
        ]
    )
    torch.testing.assert_close(F.resized_crop(images, boxes, size), expected, atol=1e-5, rtol=0)


def test_resized_crop_keeps_uint8_within_one_of_torchvision() -> None:
    images = _batch(48)
    boxes = _random_boxes(48, 32, 32, seed=2)
    expected = torch.stack(
        [TF.resized_crop(image, *box.tolist(), size=[32, 32], interpolation=BILINEAR, antialias=True) for image, box in zip(images, boxes)]
    )
    got = F.resized_crop(images, boxes, 32)
    assert got.dtype == torch.uint8
    assert (got.int() - expected.int()).abs().max() <= 1


def test_resized_crop_of_the_whole_image_is_identity() -> None:
    images = _batch(4)
    assert torch.equal(F.resized_crop(images, torch.tensor([[0, 0, 32, 32]] * 4), 32), images)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_translate_matches_torchvision_affine_with_integer_shift(dtype: torch.dtype) -> None:
    images = _batch(40).to(dtype)
    shifts = torch.randint(-40, 41, (40, 2), generator=torch.Generator().manual_seed(3))
    expected = torch.stack(
        [
            TF.affine(
                image,
                angle=0.0,
                translate=shift.tolist(),
                scale=1.0,
                shear=[0.0, 0.0],
                interpolation=InterpolationMode.NEAREST,
                fill=0,
            )
            for image, shift in zip(images, shifts)
        ]
    )
    assert torch.equal(F.translate(images, shifts), expected)


def test_hflip_matches_torchvision() -> None:
    images = _batch(4)
    assert torch.equal(F.hflip(images), torch.stack([TF.horizontal_flip(image) for image in images]))


def test_cutout_zeroes_exactly_the_box_in_all_channels() -> None:
    images = torch.full((2, 3, 8, 8), 7, dtype=torch.uint8)
    out = F.cutout(images, torch.tensor([[1, 2, 4, 7], [0, 0, 0, 0]]))
    assert (out[0, :, 1:4, 2:7] == 0).all()
    assert int((out[0] == 0).sum()) == 3 * 3 * 5
    assert torch.equal(out[1], images[1])


def test_paste_boxes_takes_the_box_from_the_source_and_the_rest_from_the_image() -> None:
    images, sources = torch.zeros(1, 3, 6, 6), torch.ones(1, 3, 6, 6)
    out = F.paste_boxes(images, sources, torch.tensor([[2, 1, 5, 3]]))
    assert out.sum() == 3 * 3 * 2
    assert (out[0, :, 2:5, 1:3] == 1).all()


def test_blend_rounds_uint8_and_is_linear_on_float() -> None:
    a, b = torch.zeros(2, 3, 2, 2, dtype=torch.uint8), torch.full((2, 3, 2, 2), 255, dtype=torch.uint8)
    out = F.blend(a, b, torch.tensor([0.5, 0.1]))
    assert out.dtype == torch.uint8
    assert (out[0] == 128).all() and (out[1] == 26).all()  # 127.5 rounds to even 128; 25.5 -> 26
    floats = F.blend(a.float(), b.float(), torch.tensor([0.25, 1.0]))
    assert (floats[0] == 63.75).all() and (floats[1] == 255).all()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_every_op_keeps_shape_and_dtype(dtype: torch.dtype) -> None:
    images = _batch(6).to(dtype)
    boxes = torch.tensor([[0, 0, 4, 4]] * 6)
    outputs = [
        F.rotate(images, torch.full((6,), 30.0)),
        F.rotate90(images, torch.ones(6, dtype=torch.long)),
        F.resized_crop(images, _random_boxes(6, 32, 32), 32),
        F.translate(images, torch.ones(6, 2, dtype=torch.long)),
        F.hflip(images),
        F.cutout(images, boxes),
        F.paste_boxes(images, images.flip(0), boxes),
        F.blend(images, images.flip(0), torch.full((6,), 0.3)),
    ]
    for out in outputs:
        assert out.shape == images.shape and out.dtype == dtype


def test_box_area_fraction_counts_clipped_boxes() -> None:
    fractions = F.box_area_fraction(torch.tensor([[0, 0, 32, 32], [30, 30, 32, 32], [5, 5, 5, 9]]), 32, 32)
    assert fractions.tolist() == [1.0, 4 / 1024, 0.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ops_give_the_same_result_on_cuda_as_on_cpu() -> None:
    images = _batch(16)
    boxes = _random_boxes(16, 32, 32)
    shifts = torch.randint(-10, 11, (16, 2), generator=torch.Generator().manual_seed(4))
    angles = torch.tensor([90.0, 180.0, 270.0, 30.0] * 4)
    cuda = images.cuda()
    assert torch.equal(F.translate(cuda, shifts).cpu(), F.translate(images, shifts))
    assert torch.equal(
        F.rotate90(cuda, (angles[:3] / 90).long().repeat(6)[:16]).cpu(), F.rotate90(images, (angles[:3] / 90).long().repeat(6)[:16])
    )
    assert (F.resized_crop(cuda, boxes, 32).cpu().int() - F.resized_crop(images, boxes, 32).int()).abs().max() <= 1
    assert (F.rotate(cuda, angles).cpu().int() - F.rotate(images, angles).int()).abs().max() <= 1
