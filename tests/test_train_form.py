"""The Train form as data: recipes fill it, one mapping (Train's and Experiments') turns it into a TrainConfig, it is saved and restored."""

from __future__ import annotations

import pytest

from cifar_core.app.train_form import DEFAULT_PRESET, WEIGHT_CHOICES, TrainForm, form_config
from cifar_core.errors import ConfigError
from cifar_core.train import TrainConfig
from cifar_core.train.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_recipe_maps_back_to_its_own_config(name):
    """Picking a recipe and starting it changes nothing but the data and how often steps are logged."""
    mapped = form_config(TrainForm.for_preset(name), "synthetic").to_dict()
    recipe = PRESETS[name].config().to_dict()
    differing = {field for field in recipe if mapped[field] != recipe[field]}
    if PRESETS[name].budget_minutes and recipe["budget_minutes"] is None:
        assert mapped["budget_minutes"] == PRESETS[name].budget_minutes  # the budget box is ticked
        differing.discard("budget_minutes")
    if recipe["model"] == "mobilenet_v3_large":  # the form's weight choices spell out every model option
        assert mapped["model_options"]["pretrained"] is True and mapped["model_options"]["resolution"] == 224
        differing.discard("model_options")
    assert differing == {"data", "log_every"}


def test_the_first_recipe_is_classroom_and_the_custom_form_is_the_studys():
    assert DEFAULT_PRESET == "classroom"
    assert form_config(TrainForm(), None) == TrainConfig(log_every=5)


def test_hidden_recipe_settings_ride_along_until_the_model_changes():
    form = TrainForm.for_preset("fast")
    form.lr, form.epochs = 0.1, 3
    config = form_config(form, None)
    assert (config.optimizer, config.schedule, config.label_smoothing, config.lr, config.epochs) == ("sgd", "triangle", 0.2, 0.1, 3)
    assert config.model_options == {"widths": [48, 96, 192], "dirac_init": True, "train_bn_scale": False}
    form.model = "simple_cnn"
    assert form_config(form, None).model_options == {}


def test_augmentations_from_the_lab_replace_the_recipes():
    form = TrainForm.for_preset("fast")
    form.augment = {"augment_ops": ["rotation"], "augment_params": {"rotation": {"angles": [90]}}}
    config = form_config(form, None)
    assert config.augment_ops == ["rotation"] and config.augment_params == {"rotation": {"angles": [90]}}


def test_a_bad_value_is_a_config_error_naming_the_field():
    form = TrainForm(lr=0.0)
    with pytest.raises(ConfigError, match="lr must be between"):
        form_config(form, None)


def test_a_saved_form_with_wrong_values_is_repaired_field_by_field():
    values = TrainForm.for_preset("fast", seed=4).to_dict()
    values.update(lr="fast", epochs=True, model="resnet999", surprise=1, use_limit=True, limit=5000)
    repaired = TrainForm.from_dict(values)
    assert (repaired.lr, repaired.epochs, repaired.model, repaired.limit, repaired.seed) == (1.5, 7, "fast_cnn", 5000, 4)


def test_an_empty_weights_path_asks_for_the_file_rather_than_calling_it_empty():
    form = TrainForm(model="mobilenet_v3_large", weights=WEIGHT_CHOICES[1], weights_path="  ")
    with pytest.raises(ConfigError, match="No weights file given yet"):
        form_config(form, None)


@pytest.mark.parametrize("name", [*PRESETS, "custom"])
def test_a_form_is_edited_once_any_value_but_the_seed_leaves_its_recipes(name):
    form = TrainForm.for_preset(name, seed=9)
    assert not form.edited()
    form.seed = 3
    assert not form.edited()
    form.budget += 1.0
    assert form.edited()
    assert not TrainForm.from_dict({**form.to_dict(), "budget": TrainForm.for_preset(name).budget}).edited()
