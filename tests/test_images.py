"""Nearest-neighbour upscaling keeps every source pixel a sharp square; grids and box outlines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cifar_core.figures.images import grid, outline_box, to_hwc, upscale, upscale_many


def checker() -> torch.Tensor:
    """A 32x32 image whose every pixel differs from its neighbours."""
    y, x = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    return torch.stack([x * 8, y * 8, ((x + y) % 2) * 255]).to(torch.uint8)


def test_upscale_repeats_each_pixel_as_a_block_without_blending():
    image = checker()
    big = np.asarray(upscale(image, scale=4))
    assert big.shape == (128, 128, 3)
    for y, x in [(0, 0), (5, 17), (31, 31)]:
        block = big[y * 4 : y * 4 + 4, x * 4 : x * 4 + 4]
        assert (block == image[:, y, x].numpy()).all()


def test_hwc_and_chw_inputs_give_the_same_picture():
    image = checker()
    assert (np.asarray(upscale(image, 2)) == np.asarray(upscale(image.permute(1, 2, 0).numpy(), 2))).all()
    assert to_hwc(image).shape == (32, 32, 3)


def test_upscale_refuses_non_uint8_images():
    with pytest.raises(ValueError, match="uint8"):
        upscale(torch.zeros(3, 32, 32))


def test_upscale_many_matches_one_by_one():
    batch = torch.stack([checker(), 255 - checker()])
    many = upscale_many(batch, 3)
    assert [np.asarray(m).tolist() for m in many] == [np.asarray(upscale(i, 3)).tolist() for i in batch]


def test_grid_places_tiles_row_by_row_with_padding():
    black, white = torch.zeros(3, 32, 32, dtype=torch.uint8), torch.full((3, 32, 32), 255, dtype=torch.uint8)
    red = black.clone()
    red[0] = 255
    canvas = np.asarray(grid(torch.stack([black, black, red]), columns=2, scale=2, padding=4, background=(0, 255, 0)))
    assert canvas.shape == (64 * 2 + 4, 64 * 2 + 4, 3)
    assert (canvas[0, 0] == 0).all()  # first tile
    assert (canvas[0, 65] == [0, 255, 0]).all()  # padding
    assert (canvas[70, 10] == [255, 0, 0]).all()  # third tile starts the second row
    assert (canvas[70, 100] == [0, 255, 0]).all()  # empty cell keeps the background
    assert white.shape == black.shape


def test_outline_box_draws_on_the_box_edge_and_leaves_the_inside_alone():
    big = upscale(torch.zeros(3, 32, 32, dtype=torch.uint8), scale=4)
    out = np.asarray(outline_box(big, (8, 8, 16, 24), scale=4, color=(255, 0, 255), width=1))
    assert (out[32, 40] == [255, 0, 255]).all()  # top-left corner of the box (y0*4, x0*4)
    assert (out[63, 95] == [255, 0, 255]).all()  # bottom-right, just inside the half-open edge
    assert (out[48, 64] == 0).all()  # inside
    assert (out[31, 40] == 0).all()  # just outside
    assert (np.asarray(big) == 0).all()  # the input is not modified
