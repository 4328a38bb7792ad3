"""The config's one table of fields: validation, the ``train`` flags and the Train form all agree with it.

Each row (``CONFIG_FIELDS``) declares a field's range or choices, default, help, flag and widget;
these tests hold each consumer to the row: the config accepts exactly the declared range, each
flag parses to the field with the row's type and help, and each widget offers the row's range
with the row's default and help (the Train page itself: an AppTest at the end).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest
from app_support import open_app

from cifar_core.app.train_form import CONFIG_NAMES, KEY_PREFIX, TrainForm, config_field, widget_arguments
from cifar_core.cli.config_flags import add_config_flags, config_from_args
from cifar_core.errors import ConfigError
from cifar_core.study import Throughput
from cifar_core.train import TrainConfig
from cifar_core.train.config import CONFIG_FIELDS
from cifar_core.train.fields import declared_fields, setting

# Fields whose check is code rather than a declared range or choices, each for the reason its row gives.
CHECKED_IN_CODE = {"model_options", "data", "augment_ops", "augment_params"}
# A value the field's range allows but another field's rule would refuse on its own (no validation split).
CONTEXT = {"val_fraction": {"train_on_full": True}}
FORM_NAMES = {config_name: form_name for form_name, config_name in CONFIG_NAMES.items()}


def config_with(name, value) -> TrainConfig:
    return TrainConfig(**{**CONTEXT.get(name, {}), name: value})


def test_every_config_field_has_a_row_and_the_ones_checked_in_code_say_where():
    assert list(CONFIG_FIELDS) == [field.name for field in dataclasses.fields(TrainConfig)]
    assert {name for name, row in CONFIG_FIELDS.items() if row.checked_by} == CHECKED_IN_CODE
    for row in CONFIG_FIELDS.values():
        assert row.help and row.help == row.help.strip() and not row.help.endswith(".")
        assert row.default == getattr(TrainConfig(), row.name)

    @dataclasses.dataclass
    class Sloppy:
        declared: int = setting(1, between=(0, 2), help="a field with its row")
        forgotten: int = 3

    with pytest.raises(TypeError, match="Sloppy.forgotten is declared without setting()"):
        declared_fields(Sloppy)

    @dataclasses.dataclass
    class Unbounded:
        count: int = setting(1, help="a number without a range")

    with pytest.raises(TypeError, match="count .int. needs between="):
        declared_fields(Unbounded)


@pytest.mark.parametrize("name", [name for name, row in CONFIG_FIELDS.items() if row.between])
def test_the_config_accepts_exactly_the_declared_range(name):
    row = CONFIG_FIELDS[name]
    low, high = row.bounds(TrainConfig())
    if row.type is int:
        inside, outside = (low, high), (low - 1, high + 1)
    else:
        inside, outside = (low, high), (math.nextafter(low, -math.inf), math.nextafter(high, math.inf))
    for value in inside:
        assert getattr(config_with(name, value), name) == value
    for value in outside:
        with pytest.raises(ConfigError, match=f"^{name} must be between "):
            config_with(name, value)
    if row.optional:
        assert getattr(TrainConfig(**{name: None}), name) is None


@pytest.mark.parametrize("name", [name for name, row in CONFIG_FIELDS.items() if row.choices or row.type is bool])
def test_the_config_accepts_exactly_the_declared_choices(name):
    row = CONFIG_FIELDS[name]
    for value in row.choices or (True, False):
        assert getattr(TrainConfig(**{name: value}), name) == value
    with pytest.raises(ConfigError, match=f"^{name} must be (one of|true or false)"):
        TrainConfig(**{name: 1})


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser()
    add_config_flags(made)
    return made


def a_value(row):
    """A value the row allows that is not its default, so a flag that did nothing would show."""
    if row.choices:
        return list(row.choices)[-1]
    if row.type is bool:
        return not row.default
    if row.between:
        return row.bounds(TrainConfig())[1]
    return {"data": "synthetic", "augment_ops": ["rotation", "cutmix"]}[row.name]


@pytest.mark.parametrize("name", [name for name, row in CONFIG_FIELDS.items() if row.flag])
def test_each_flag_sets_its_field_with_the_rows_type_default_and_help(name):
    row = CONFIG_FIELDS[name]
    (action,) = [action for action in parser()._actions if row.flag in action.option_strings]
    assert (action.dest, action.default, action.help) == (name, None, row.help)
    value = a_value(row)
    if row.type is bool:
        assert isinstance(action, argparse.BooleanOptionalAction)
        argv = [row.flag if value else "--no-" + row.flag.removeprefix("--")]
    elif row.type is list:
        argv = [row.flag, " , ".join(value)]
    else:
        assert action.type is row.type
        argv = [row.flag, str(value)]
    assert getattr(config_from_args(parser().parse_args(argv)), name) == value
    if row.between:  # the config's range, not the parser's: the CLI prints the app's sentence
        with pytest.raises(ConfigError, match=f"^{name} must be between "):
            config_from_args(parser().parse_args([row.flag, str(row.bounds(TrainConfig())[1] * 2)]))


def test_fields_without_a_flag_are_not_set_by_any_flag():
    dests = {action.dest for action in parser()._actions}
    unflagged = {name for name, row in CONFIG_FIELDS.items() if not row.flag}
    assert unflagged == {"model_options", "augment_params", "budget_stretch", "momentum", "muon_momentum", "muon_batched"}
    assert not unflagged & dests


WIDGET_FIELDS = [name for name, row in CONFIG_FIELDS.items() if row.widget]


@pytest.mark.parametrize("name", WIDGET_FIELDS)
def test_each_form_widget_offers_the_rows_range_default_and_help(name):
    row = CONFIG_FIELDS[name]
    form_name = FORM_NAMES.get(name, name)
    assert config_field(form_name) is row
    assert getattr(TrainForm(), form_name) == (row.widget.start if row.default is None else row.default)
    arguments = widget_arguments(form_name)
    assert arguments["help"] == row.help[0].upper() + row.help[1:] + "."
    if row.widget.kind == "slider":
        assert (arguments["min_value"], arguments["max_value"]) == row.between
    elif row.widget.kind == "select":
        assert arguments["options"] == list(row.choices)
    elif row.widget.kind == "number":
        assert arguments.get("min_value") == (row.between[0] if row.widget.floor else None) and "max_value" not in arguments
    if row.widget.start is not None:  # an optional field's box starts inside the range
        assert row.between[0] <= row.widget.start <= row.between[1]


def test_the_train_page_draws_each_widget_from_its_row(app_env, monkeypatch):
    monkeypatch.setattr("cifar_core.ui.estimates.device_throughput", lambda store, config: Throughput(1000.0, 3000.0, "fixed"))
    at = open_app("train")  # the classroom recipe ticks the limit and budget boxes, so every widget is drawn
    finders = {"slider": at.slider, "number": at.number_input, "select": at.selectbox, "checkbox": at.checkbox}
    for name in WIDGET_FIELDS:
        row, form_name = CONFIG_FIELDS[name], FORM_NAMES.get(name, name)
        (widget,) = [widget for widget in finders[row.widget.kind] if widget.key == KEY_PREFIX + form_name]
        arguments = widget_arguments(form_name)
        assert widget.help == arguments["help"], name
        if row.widget.kind == "slider":
            assert (widget.min, widget.max, widget.step) == (*row.between, row.widget.step), name
        elif row.widget.kind == "number":
            assert widget.step == row.widget.step, name
            assert (widget.min, widget.max) == (arguments.get("min_value"), None), name
        elif row.widget.kind == "select":  # the options read as their titles: as many, the chosen one among the row's
            assert len(widget.options) == len(row.choices) and widget.value in row.choices, name
