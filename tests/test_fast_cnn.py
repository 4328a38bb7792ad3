"""The fast recipe's network and optimiser pieces: whitening, identity init, frozen BN scales,
BN-shift learning rates and the triangle schedule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cifar_core.errors import ConfigError
from cifar_core.models import build_model, count_parameters
from cifar_core.models.fast_cnn import PATCH_DIM, WHITEN_KERNEL
from cifar_core.train import TrainConfig
from cifar_core.train.optim import lr_factor, make_optimizer


def fast(**options):
    torch.manual_seed(0)
    return build_model("fast_cnn", dropout=0.0, options={"widths": [8, 16, 16], **options})


def test_whitening_filters_decorrelate_the_image_patches_they_were_fitted_on():
    model = fast()
    images = torch.rand(400, 3, 32, 32) ** 2  # skewed pixels, correlated across the patch like photos
    images = (images + images.roll(1, dims=-1)) / 2
    model.init_from_data(images)
    with torch.no_grad():
        out = F.conv2d(model.preprocess(images), model.whiten.weight[:PATCH_DIM])
    features = out.permute(0, 2, 3, 1).reshape(-1, PATCH_DIM).double()
    covariance = torch.cov(features.T)
    assert torch.allclose(covariance, torch.eye(PATCH_DIM, dtype=torch.double), atol=0.02)
    assert torch.equal(model.whiten.weight[PATCH_DIM:], -model.whiten.weight[:PATCH_DIM])
    assert model.whiten.weight.shape == (2 * PATCH_DIM, 3, WHITEN_KERNEL, WHITEN_KERNEL)
    assert not model.whiten.weight.requires_grad


def test_output_shape_and_that_widths_are_checked():
    model = fast()
    assert model(torch.rand(5, 3, 32, 32)).shape == (5, 10)
    with pytest.raises(ConfigError, match="three whole numbers"):
        fast(widths=[8, 16])


def test_dirac_init_makes_the_first_filters_identities():
    conv = fast(dirac_init=True).groups[1].conv1  # 8 -> 16 channels
    expected = torch.zeros(8, 8, 3, 3)
    expected[torch.arange(8), torch.arange(8), 1, 1] = 1
    assert torch.equal(conv.weight[:8], expected)
    assert conv.weight[8:].abs().sum() > 0  # the rest keep their random init
    assert not torch.equal(fast().groups[1].conv1.weight[:8], expected)


def test_frozen_bn_scales_do_not_train_and_bn_shifts_get_their_own_learning_rate():
    model = fast(train_bn_scale=False)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not n.weight.requires_grad and n.bias.requires_grad for n in norms)
    assert count_parameters(model, trainable_only=True) == count_parameters(fast(), trainable_only=True) - sum(
        n.weight.numel() for n in norms
    )
    config = TrainConfig(model="fast_cnn", optimizer="sgd", lr=0.5, weight_decay=0.01, bias_lr_scale=64)
    optimizer = make_optimizer(config, model)
    main, shifts = optimizer.param_groups
    assert {id(p) for p in shifts["params"]} == {id(n.bias) for n in norms}
    assert shifts["lr"] == pytest.approx(32.0) and shifts["lr"] * shifts["weight_decay"] == pytest.approx(0.5 * 0.01)
    assert main["lr"] == 0.5 and len(main["params"]) + len(shifts["params"]) == len([p for p in model.parameters() if p.requires_grad])
    assert len(make_optimizer(config.replace(bias_lr_scale=1.0), model).param_groups) == 1


def test_triangle_schedule_rises_from_a_fifth_to_the_peak_then_falls_to_seven_percent():
    config = TrainConfig(schedule="triangle", epochs=10)
    factors = [lr_factor(config, step, total_steps=100, steps_per_epoch=10) for step in range(101)]
    assert factors[0] == pytest.approx(0.2) and max(factors) == pytest.approx(1.0, abs=0.01)
    assert factors.index(max(factors)) == 23 and factors[100] == pytest.approx(0.07)
    assert all(a <= b for a, b in zip(factors[:23], factors[1:24])) and all(a >= b for a, b in zip(factors[23:], factors[24:]))
    with pytest.raises(ConfigError, match="triangle schedule has its own warm-up"):
        TrainConfig(schedule="triangle", warmup_epochs=1.0, epochs=10)
