"""Test-time augmentation levels: what each averages over, checked against hand-built views."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifar_core.models.inference import TTA_MODES, predict_logits

CPU = torch.device("cpu")


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 32 * 32, 10))


def images(n: int = 6) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)


def test_flip_tta_is_exactly_invariant_to_mirroring_the_input():
    model, x = tiny_model(), images()
    plain = predict_logits(model, x, CPU, precision="fp32")
    assert not torch.allclose(plain, predict_logits(model, x.flip(-1), CPU, precision="fp32"))
    flipped = predict_logits(model, x, CPU, tta="flip", precision="fp32")
    mirrored = predict_logits(model, x.flip(-1), CPU, tta="flip", precision="fp32")
    assert torch.allclose(flipped, mirrored, atol=1e-5)


def test_flip_shift_tta_averages_the_six_views_with_half_weight_on_the_unshifted_pair():
    model, x = tiny_model(), images()
    floats = x.float() / 255
    padded = F.pad(floats, (1, 1, 1, 1), mode="reflect")
    up_left, down_right = padded[..., 2:, 2:], padded[..., :32, :32]
    assert torch.equal(up_left[..., :31, :31], floats[..., 1:, 1:])  # content moved one pixel up-left

    def mirror_mean(view):
        return (model(view) + model(view.flip(-1))) / 2

    with torch.no_grad():
        expected = 0.5 * mirror_mean(floats) + 0.25 * (mirror_mean(up_left) + mirror_mean(down_right))
    got = predict_logits(model, x, CPU, tta="flip_shift", precision="fp32", batch_size=4)
    assert torch.allclose(got, expected, atol=1e-5)


def test_every_tta_level_keeps_the_model_mode_and_unknown_levels_are_refused():
    model = tiny_model().train()
    for mode in TTA_MODES:
        assert predict_logits(model, images(3), CPU, tta=mode).shape == (3, 10)
    assert model.training
    with pytest.raises(ValueError, match="tta must be one of none, flip, flip_shift"):
        predict_logits(model, images(3), CPU, tta=True)


def test_progress_hears_every_batch_with_images_done_and_the_total():
    heard = []
    logits = predict_logits(tiny_model(), images(7), CPU, batch_size=3, progress=lambda done, total: heard.append((done, total)))
    assert heard == [(3, 7), (6, 7), (7, 7)] and logits.shape == (7, 10)
