"""Presets: whole recipes under one name, valid, overridable by flags, listed by the CLI."""

from __future__ import annotations

import argparse
import json

import pytest

from cifar_core.cli import main
from cifar_core.cli.config_flags import add_config_flags, config_from_args
from cifar_core.errors import ConfigError
from cifar_core.train.presets import PRESETS, get_preset


def test_every_preset_is_a_valid_config_and_the_required_ones_exist():
    assert {"classroom", "study_cnn", "study_mobilenet", "fast", "fast_wide"} <= set(PRESETS)
    assert next(iter(PRESETS)) == "classroom"  # first in the Train page's list
    for preset in PRESETS.values():
        assert preset.config().model in ("simple_cnn", "mobilenet_v3_large", "fast_cnn")
    assert get_preset("study_cnn").config().to_dict() | {"epochs": 10} == get_preset("study_cnn").config(epochs=10).to_dict()


def test_flags_override_a_preset_field_by_field():
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    config = config_from_args(parser.parse_args(["--preset", "fast", "--budget-minutes", "5", "--lr", "0.1"]))
    assert (config.model, config.optimizer, config.budget_minutes, config.lr) == ("fast_cnn", "sgd", 5.0, 0.1)
    assert config.label_smoothing == 0.2
    wide = config_from_args(parser.parse_args(["--preset", "fast_wide", "--no-lookahead", "--bias-lr-scale", "8"]))
    assert (wide.lookahead, wide.bias_lr_scale, wide.schedule) == (False, 8.0, "triangle")
    assert config_from_args(parser.parse_args(["--preset", "fast", "--lookahead"])).lookahead is True
    plain = config_from_args(
        parser.parse_args(["--preset", "fast_wide", "--model-option", "dirac_init=false", "--model-option", "widths=[32,64,128]"])
    )
    assert plain.model_options == {"widths": [32, 64, 128], "dirac_init": False, "train_bn_scale": False}
    with pytest.raises(ConfigError, match="not JSON"):
        config_from_args(parser.parse_args(["--preset", "fast_wide", "--model-option", "widths=wide"]))


def test_unknown_preset_is_a_clear_error(capsys):
    with pytest.raises(ConfigError, match="Unknown preset 'turbo'"):
        get_preset("turbo")
    assert main(["train", "--preset", "turbo"]) == 2
    assert "Unknown preset 'turbo'" in capsys.readouterr().err


def test_presets_json_lists_each_recipe_with_its_full_config(capsys):
    assert main(["presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == set(PRESETS)
    assert listed["fast"]["config"]["model_options"] == {"widths": [48, 96, 192], "dirac_init": True, "train_bn_scale": False}


def test_classroom_is_the_small_sgd_recipe_on_10000_images_with_a_budget_on_the_cli_too():
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    config = config_from_args(parser.parse_args(["--preset", "classroom"]))
    assert (config.model, config.limit, config.budget_minutes, config.optimizer) == ("fast_cnn", 10_000, 1.25, "sgd")
    assert get_preset("classroom").budget_minutes == config.budget_minutes


def test_too_few_epochs_names_the_count_the_recipe_needs_and_what_to_do():
    from cifar_core.train.presets import too_few_epochs

    assert too_few_epochs("classroom", 2).startswith(
        "At this machine's speed now the budget buys only 2 epochs, and the classroom recipe needs about 10"
    )
    assert too_few_epochs("classroom", 10) is None and too_few_epochs("fast", 2) is None and too_few_epochs("classroom", None) is None
