"""One ``box`` convention: every op that records a region records a ``Box`` (half-open,
named fields), and the recorded box is exactly the region the op changed; the lab's captions and
the outlines read it the same way for every op."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cifar_core.app.lab import describe_op
from cifar_core.augment import AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.augment.box import Box
from cifar_core.augment.preview import render_grid
from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.figures.images import outline_box, upscale

COUNT = 64


def _run(name: str, images: torch.Tensor, **params):
    pipeline = AugmentPipeline(AugmentConfig([OpConfig(name, 1.0, params)]))
    result = pipeline(images, torch.arange(COUNT) % 10, torch.Generator().manual_seed(0), record=True)
    return result, [record["ops"][0] for record in result.records]


def _changed(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """``[H, W]`` bool: the pixels whose value changed in any channel."""
    return (before != after).any(dim=0)


def _mask(box: Box, height: int = 32, width: int = 32) -> torch.Tensor:
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[box.top : box.bottom, box.left : box.right] = True
    return mask


def test_a_cutout_box_is_the_region_blacked_out():
    images = torch.randint(1, 256, (COUNT, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    result, ops = _run("cutout", images, size=12)
    for image, out, op in zip(images, result.images, ops):
        assert isinstance(op["box"], Box)
        assert torch.equal(_changed(image, out), _mask(op["box"])) and (out[:, _mask(op["box"])] == 0).all()
    assert any(op["box"].height < 12 for op in ops)  # clipped at the border, and recorded as clipped


def test_a_cutmix_box_is_the_region_pasted_from_the_partner():
    images = (torch.arange(COUNT, dtype=torch.uint8) * 3 + 1).view(-1, 1, 1, 1).expand(COUNT, 3, 32, 32).clone()
    result, ops = _run("cutmix", images)
    for image, out, op in zip(images, result.images, ops):
        assert isinstance(op["box"], Box)
        partner = images[op["partner"]]
        if not torch.equal(partner, image):
            assert torch.equal(_changed(image, out), _mask(op["box"]))
            assert torch.equal(out[:, _mask(op["box"])], partner[:, _mask(op["box"])])
        assert op["weight"] == op["box"].area / 1024


def test_a_resized_crop_box_is_the_region_cropped_as_torchvision_crops_it():
    images = torch.rand((COUNT, 3, 32, 32), generator=torch.Generator().manual_seed(2))
    result, ops = _run("resized_crop", images)
    for image, out, op in zip(images, result.images, ops):
        box = op["box"]
        assert isinstance(box, Box) and 0 <= box.top < box.bottom <= 32 and 0 <= box.left < box.right <= 32
        expected = TF.resized_crop(
            image, box.top, box.left, box.height, box.width, size=[32, 32], interpolation=InterpolationMode.BILINEAR, antialias=True
        )
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert len({op["box"] for op in ops}) > COUNT // 2  # boxes of many sizes and places, not one


def test_a_box_keeps_its_fields_through_json_and_the_captions_read_them():
    crop, cutout = Box(2, 3, 10, 20), Box(0, 5, 7, 9)
    for stored in (crop, json.loads(json.dumps(crop))):
        assert describe_op({"op": "resized_crop", "box": stored}) == "cropped 17×8 px at (3, 2) and resized"
    for stored in (cutout, json.loads(json.dumps(cutout))):
        assert describe_op({"op": "cutout", "box": stored}) == "blacked out 4×7 px"
    assert Box.of([2, 3, 10, 20]) == crop and (crop.height, crop.width, crop.area) == (8, 17, 136)
    assert Box(30, 30, 30, 32).area == 0 and Box(5, 5, 4, 9).height == 0  # clipped away: no area


@pytest.mark.parametrize("scale", [1, 4])
def test_the_outlines_of_the_lab_and_the_preview_frame_the_recorded_box(scale):
    box = Box(4, 6, 12, 25)
    plain = torch.zeros(3, 32, 32, dtype=torch.uint8)
    drawn = np.asarray(outline_box(upscale(plain, scale), box, scale, width=1)).any(axis=2)
    rows, cols = np.nonzero(drawn)
    assert (rows.min(), cols.min(), rows.max(), cols.max()) == (4 * scale, 6 * scale, 12 * scale - 1, 25 * scale - 1)
    record = {"index": 0, "ops": [{"op": "cutmix", "box": box, "partner": 0, "weight": 0.3}], "label_weights": {0: 1.0}}
    images = plain.unsqueeze(0)
    with_box = np.asarray(render_grid(images, images, [record], CIFAR10_CLASSES, scale=scale)).astype(int)
    empty = {**record, "ops": [{**record["ops"][0], "box": Box(0, 0, 0, 0)}]}  # same caption, nothing to outline
    without = np.asarray(render_grid(images, images, [empty], CIFAR10_CLASSES, scale=scale)).astype(int)
    rows, cols = np.nonzero((with_box != without).any(axis=2))
    frame = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    assert frame == (box.height * scale, box.width * scale)  # the preview's outline spans the box exactly


@pytest.mark.parametrize(
    ("entry", "caption"),
    [
        ({"op": "rotation", "angle": -0.3}, "rotated 0°"),  # :.0f printed "-0°"
        ({"op": "cutmix", "weight": 4 / 1024, "partner": 8}, "0.4% pasted from image #9"),  # a 2x2 patch is not 0%
        ({"op": "cutmix", "weight": 0.25, "partner": 0}, "25% pasted from image #1"),
    ],
)
def test_lab_captions_never_round_a_real_change_to_nothing(entry, caption):
    assert describe_op(entry).endswith(caption)
