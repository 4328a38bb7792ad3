"""Augmentation configs refuse bad values with a clear message and round-trip through JSON."""

from __future__ import annotations

import json

import pytest

from cifar_core.augment import MIX_OPS, OP_NAMES, STANDARD_OPS, AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.errors import ConfigError


def test_op_names_are_the_standard_then_the_mix_ops() -> None:
    assert OP_NAMES == ("rotation", "resized_crop", "translate", "hflip", "cutout", "cutmix", "mixup")
    assert set(STANDARD_OPS) | set(MIX_OPS) == set(OP_NAMES) and not set(STANDARD_OPS) & set(MIX_OPS)


@pytest.mark.parametrize(
    ("name", "p", "params", "message"),
    [
        ("blur", 0.5, {}, "Unknown augmentation op 'blur'"),
        ("rotation", 1.5, {}, r"p for rotation must be a number in \[0, 1\]"),
        ("rotation", -0.1, {}, "p for rotation"),
        ("rotation", "0.5", {}, "p for rotation"),
        ("rotation", True, {}, "p for rotation"),
        ("rotation", 0.5, {"angle": 90}, "Unknown parameter.*angle.*allowed: angles, degrees"),
        ("rotation", 0.5, {"angles": []}, "Bad rotation parameter angles"),
        ("rotation", 0.5, {"angles": [90], "degrees": [-10, 10]}, "not both"),
        ("rotation", 0.5, {"degrees": [10, -10]}, "Bad rotation parameter degrees"),
        ("resized_crop", 0.5, {"scale": [0.0, 1.0]}, "Bad resized_crop parameter scale"),
        ("resized_crop", 0.5, {"scale": [0.5, 1.5]}, "Bad resized_crop parameter scale"),
        ("resized_crop", 0.5, {"ratio": [2.0, 1.0]}, "Bad resized_crop parameter ratio"),
        ("translate", 0.5, {"translate": [0.1]}, "Bad translate parameter translate"),
        ("translate", 0.5, {"translate": [0.1, 1.5]}, "Bad translate parameter translate"),
        ("hflip", 0.5, {"p": 1}, "allowed: alternate"),
        ("hflip", 0.5, {"alternate": 1}, "alternate: 1 is not true or false"),
        ("translate", 1.0, {"padding": "wrap"}, "padding: .wrap. is not one of zeros, reflect"),
        ("translate", 1.0, {"padding": "reflect", "translate": [0.1, 0.6]}, "at most half the image"),
        ("cutout", 0.5, {"size": 0}, "Bad cutout parameter size"),
        ("cutout", 0.5, {"size": 4.5}, "Bad cutout parameter size"),
        ("cutmix", 0.5, {"alpha": 0}, "Bad cutmix parameter alpha"),
        ("mixup", 0.5, {"alpha": float("nan")}, "Bad mixup parameter alpha"),
    ],
)
def test_invalid_op_configs_raise_config_error_naming_the_fault(name, p, params, message) -> None:
    with pytest.raises(ConfigError, match=message):
        OpConfig(name, p, params)


def test_study_gives_standard_ops_aug_p_and_mix_ops_mix_p() -> None:
    config = AugmentConfig.study(0.06, 0.03)
    assert [(op.name, op.p) for op in config.ops] == [
        ("rotation", 0.06),
        ("resized_crop", 0.06),
        ("translate", 0.06),
        ("cutmix", 0.03),
    ]
    assert [op.name for op in AugmentConfig.study(1, 0, ops=("hflip", "mixup")).ops] == ["hflip", "mixup"]
    with pytest.raises(ConfigError, match="Unknown augmentation op"):
        AugmentConfig.study(0.1, 0.1, ops=("rotation", "jitter"))
    with pytest.raises(ConfigError, match="mix"):
        AugmentConfig.study(0.1, 2.0)


def test_defaults_are_the_study_settings() -> None:
    resolved = {op.name: op.resolved() for op in AugmentConfig.study(1, 1, ops=OP_NAMES).ops}
    assert resolved["rotation"] == {"angles": (90.0, 180.0, 270.0), "degrees": None}
    assert resolved["resized_crop"] == {"scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3)}
    assert resolved["translate"] == {"translate": (0.1, 0.4), "padding": "zeros"}  # the study filled the border black
    assert resolved["hflip"] == {"alternate": False}
    assert resolved["cutmix"] == {"alpha": 0.3}


def test_config_round_trips_through_json() -> None:
    config = AugmentConfig(
        [
            OpConfig("rotation", 0.2, {"degrees": (-30, 30)}),
            OpConfig("resized_crop", 0.1, {"scale": [0.5, 1.0]}),
            OpConfig("cutmix", 0.05, {"alpha": 1.0}),
        ]
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert data == config.to_dict()
    again = AugmentConfig.from_dict(data)
    assert again.to_dict() == config.to_dict()
    assert [op.resolved() for op in again.ops] == [op.resolved() for op in config.ops]


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"ops": {}},
        {"ops": [], "extra": 1},
        {"ops": [{"name": "rotation"}]},
        {"ops": [{"name": "rotation", "p": 0.5, "prob": 1}]},
        {"ops": [{"name": "rotation", "p": 0.5, "params": [1]}]},
        {"ops": [{"name": ["rotation"], "p": 0.5}]},
    ],
)
def test_malformed_config_dicts_raise_config_error(data) -> None:
    with pytest.raises(ConfigError):
        AugmentConfig.from_dict(data)


def test_pipeline_refuses_a_bad_class_count() -> None:
    with pytest.raises(ConfigError, match="num_classes"):
        AugmentPipeline(AugmentConfig.study(0.1, 0.1), num_classes=0)
