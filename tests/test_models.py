"""Models: the study's exact architectures, and ImageNet weights through torchvision's API."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v3_large

from cifar_core.errors import ConfigError, WeightsUnavailableError
from cifar_core.models import build_model, count_parameters
from cifar_core.models.mobilenet import hub_cache_file


def test_simple_cnn_has_the_study_parameter_count_and_output_shape():
    model = build_model("simple_cnn", dropout=0.2)
    # 8 convs (293,520) + 8 BatchNorms (960) + Linear(512,128) (65,664) + Linear(128,10) (1,290)
    assert count_parameters(model) == 361_434
    assert model(torch.rand(4, 3, 32, 32)).shape == (4, 10)


def test_simple_cnn_stages_follow_conv_relu_dropout_batchnorm_order():
    model = build_model("simple_cnn", dropout=0.3)
    kinds = [type(m) for m in model if not isinstance(m, (nn.Flatten,)) and type(m).__name__ != "Preprocess"]
    unit = [nn.Conv2d, nn.ReLU, nn.Dropout, nn.BatchNorm2d]
    stage = unit + unit + [nn.MaxPool2d]
    assert kinds[: 4 * len(stage)] == stage * 4
    assert kinds[4 * len(stage) :] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    widths = [m.out_channels for m in model if isinstance(m, nn.Conv2d)]
    assert widths == [16, 16, 32, 32, 64, 64, 128, 128]
    assert {m.p for m in model if isinstance(m, nn.Dropout)} == {0.3}


def test_unknown_model_and_option_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown model 'resnet9000'"):
        build_model("resnet9000", dropout=0.1)
    with pytest.raises(ConfigError, match="does not take option"):
        build_model("simple_cnn", dropout=0.1, options={"pretrained": True})


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache, so tests never see (or write) the user's real one."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


def _fake_imagenet_weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    return mobilenet_v3_large(weights=None).state_dict()


def test_mobilenet_reads_imagenet_weights_from_the_torch_hub_cache(hub_dir):
    weights = _fake_imagenet_weights()
    hub_cache_file().parent.mkdir(parents=True)
    torch.save(weights, hub_cache_file())
    model = build_model("mobilenet_v3_large", dropout=0.2, options={"resolution": 64})
    backbone = model[1]
    loaded = backbone.features.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value, weights[f"features.{key}"]), key
    head = [m for m in backbone.classifier]
    assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert (head[0].in_features, head[0].out_features, head[3].out_features) == (960, 256, 10)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_mobilenet_reads_a_weights_file_the_user_names(tmp_path, hub_dir):
    weights = _fake_imagenet_weights()
    path = tmp_path / "my-weights.pth"
    torch.save(weights, path)
    model = build_model("mobilenet_v3_large", dropout=0.2, options={"weights_path": str(path), "resolution": 32})
    assert torch.equal(model[1].features[0][0].weight, weights["features.0.0.weight"])


def test_mobilenet_offline_without_weights_says_where_to_put_them(hub_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError, match="mobilenet_v3_large-8738ca79.pth") as info:
        build_model("mobilenet_v3_large", dropout=0.2)
    assert str(hub_cache_file()) in str(info.value)
    assert "pretrained=False" in str(info.value)


def test_mobilenet_rejects_a_weights_file_of_another_model(tmp_path, hub_dir):
    path = tmp_path / "wrong.pth"
    torch.save(build_model("simple_cnn", dropout=0.1).state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match="does not fit MobileNetV3-Large"):
        build_model("mobilenet_v3_large", dropout=0.2, options={"weights_path": str(path)})


def test_mobilenet_frozen_backbone_trains_only_the_new_head(hub_dir):
    model = build_model("mobilenet_v3_large", dropout=0.2, options={"pretrained": False, "freeze_backbone": True, "resolution": 32})
    assert count_parameters(model, trainable_only=True) == 960 * 256 + 256 + 256 * 10 + 10
