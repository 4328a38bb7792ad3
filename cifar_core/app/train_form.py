"""The Train page's form as plain data, and the one mapping from it to a ``TrainConfig``.

The Train page draws these values as widgets; the Experiments page builds its base run from the
same values. Both call ``form_config``, so a recipe's settings that have no widget (optimizer,
schedule, label smoothing, model options, augmentations) reach a study exactly as they reach a
run started on Train. Each widget's range, step, help and starting value come from its config
field's row of the table (``TrainConfig``'s declarations, via ``widget_arguments``), so the form
offers what the config accepts. Each browser's form is saved with the rest of its state
(``cifar_core.ui.browser``), so a reload finds that browser's form, never another's.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from cifar_core.app.sources import check_path
from cifar_core.data import CifarData
from cifar_core.errors import ConfigError, DataError
from cifar_core.train import TrainConfig
from cifar_core.train.config import CONFIG_FIELDS
from cifar_core.train.fields import ConfigField
from cifar_core.train.presets import PRESETS

CUSTOM = "custom"
DEFAULT_PRESET = next(iter(PRESETS))  # the first recipe (classroom)
WEIGHT_CHOICES = ("ImageNet weights (cache or download)", "ImageNet weights from a file", "No pretrained weights (random init)")
RESOLUTIONS = (32, 64, 96, 128, 160, 224)
# A form field drawn for the config field of another name (every other drawn field shares its name).
CONFIG_NAMES = {"budget": "budget_minutes"}
DEFAULT_LIMIT = CONFIG_FIELDS["limit"].widget.start
DEFAULT_BUDGET_MINUTES = CONFIG_FIELDS["budget_minutes"].widget.start
# A step event every 5 steps keeps the progress bar moving on small runs (the default of 20 leaves a
# small run silent until its epoch ends); it changes only how often metrics.jsonl is written.
LIVE_LOG_EVERY = 5
KEY_PREFIX = "train_"  # widget key of a field: "train_" + field name


@dataclass
class TrainForm:
    """Every value the Train page's form holds; field ``x`` is drawn by the widget ``train_x``.

    ``TrainForm()`` is the custom form (the study's defaults); a new user's form is
    ``TrainForm.for_preset(DEFAULT_PRESET)``.

    ``augment`` is set only when the Augmentation lab carried its settings over
    (``augment_ops`` and ``augment_params``); otherwise the recipe's own augmentations apply.
    """

    preset: str = CUSTOM
    model: str = TrainConfig.model
    dropout: float = TrainConfig.dropout
    aug_p: float = TrainConfig.aug_p
    mix_p: float = TrainConfig.mix_p
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    epochs: int = TrainConfig.epochs
    seed: int = TrainConfig.seed
    shuffle: bool = TrainConfig.shuffle
    use_limit: bool = False
    limit: int = DEFAULT_LIMIT
    use_budget: bool = False
    budget: float = DEFAULT_BUDGET_MINUTES
    weights: str = WEIGHT_CHOICES[0]
    weights_path: str = ""
    resolution: int = 224
    freeze: bool = False
    augment: dict[str, Any] | None = None

    @classmethod
    def for_preset(cls, name: str, seed: int = TrainConfig.seed) -> TrainForm:
        """The form a recipe fills in (``custom``: the study's defaults); the seed is kept."""
        preset = PRESETS.get(name)
        config = preset.config() if preset else TrainConfig()
        budget = config.budget_minutes or (preset.budget_minutes if preset else None)
        return cls(
            preset=name if preset else CUSTOM,
            **{field: getattr(config, field) for field in WIDGET_FIELDS},
            seed=seed,
            use_limit=config.limit is not None,
            limit=config.limit or DEFAULT_LIMIT,
            use_budget=budget is not None,
            budget=float(budget or DEFAULT_BUDGET_MINUTES),
            resolution=config.model_options.get("resolution", 224),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def edited(self) -> bool:
        """Whether any value differs from what its recipe fills in (the seed, which a recipe keeps, aside)."""
        return self.to_dict() != TrainForm.for_preset(self.preset, seed=self.seed).to_dict()

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainForm:
        """A form from saved or session values; a missing, mistyped or unknown value takes its default.

        The saved file may be old or edited by hand, so each value is checked against its
        field's type (and choices) rather than trusted.
        """
        preset = values.get("preset")
        form = cls.for_preset(preset if _acceptable("preset", preset, None) else DEFAULT_PRESET)
        for field in dataclasses.fields(cls):
            if field.name in values and _acceptable(field.name, values[field.name], getattr(form, field.name)):
                value = values[field.name]
                setattr(form, field.name, float(value) if isinstance(getattr(form, field.name), float) else value)
        return form

    def widget_values(self) -> dict[str, Any]:
        """``{widget key: value}`` for every field a widget draws (all but ``augment``)."""
        return {KEY_PREFIX + name: value for name, value in self.to_dict().items() if name != "augment"}


# Fields whose widget shows a TrainConfig field of the same name.
WIDGET_FIELDS = ("model", "dropout", "aug_p", "mix_p", "batch_size", "lr", "epochs", "shuffle")


def config_field(name: str) -> ConfigField:
    """The config field that the form field ``name`` draws."""
    return CONFIG_FIELDS[CONFIG_NAMES.get(name, name)]


def widget_arguments(name: str) -> dict[str, Any]:
    """The Train page's widget keywords for form field ``name``, from its config field's row.

    A slider spans the field's whole range, a select offers its choices; a number box has no
    bounds of its own unless its row says ``floor`` (a bad value is then the config's sentence
    naming the field and its range). The help is the field's help sentence, as the CLI shows it.
    """
    field = config_field(name)
    widget = field.widget
    arguments: dict[str, Any] = {"help": field.help[0].upper() + field.help[1:] + "."}
    if widget.kind == "slider":
        low, high = field.between
        arguments.update(min_value=low, max_value=high, step=widget.step)
    elif widget.kind == "select":
        arguments["options"] = list(field.choices)
    elif widget.kind == "number":
        arguments.update({"step": widget.step, **({"format": widget.format} if widget.format else {})})
        if widget.floor:
            arguments["min_value"] = field.between[0]
    return arguments


def _acceptable(name: str, value: Any, default: Any) -> bool:
    if name == "augment":
        return value is None or (
            isinstance(value, dict) and isinstance(value.get("augment_ops"), list) and isinstance(value.get("augment_params"), dict)
        )
    if name == "preset":
        return value == CUSTOM or value in PRESETS
    if name == "model":
        return value in CONFIG_FIELDS["model"].choices
    if name == "weights":
        return value in WEIGHT_CHOICES
    if name == "resolution":
        return value in RESOLUTIONS
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, type(default))


def form_config(form: TrainForm, data: str | None) -> TrainConfig:
    """The run the form describes, on ``data``: the Train and Experiments pages both call this, so a study's base is Train's run.

    Starts from the chosen recipe's whole config, so its settings without a widget ride along;
    the recipe's model options apply only while its model is still chosen, and augmentations
    carried over from the Augmentation lab replace the recipe's. Raises ``ConfigError`` naming
    the first bad value.
    """
    preset = PRESETS.get(form.preset)
    values = (preset.config() if preset else TrainConfig()).to_dict()
    if form.model != values["model"]:
        values["model_options"] = {}
    values.update({field: getattr(form, field) for field in WIDGET_FIELDS})
    values.update(
        data=data,
        seed=form.seed,
        limit=form.limit if form.use_limit else None,
        budget_minutes=float(form.budget) if form.use_budget else None,
        log_every=LIVE_LOG_EVERY,
    )
    if form.augment:
        values.update(augment_ops=list(form.augment["augment_ops"]), augment_params=dict(form.augment["augment_params"]))
    if form.model == "mobilenet_v3_large":
        from_file = form.weights == WEIGHT_CHOICES[1]
        if from_file and not form.weights_path.strip():  # check_path's "is empty" would read as an empty file
            raise ConfigError(
                "No weights file given yet: type the path of a .pth file under “Weights file (.pth)”, or choose other starting weights."
            )
        values["model_options"] = {
            "pretrained": form.weights != WEIGHT_CHOICES[2],
            "weights_path": str(check_path(form.weights_path, what="weights file")) if from_file else None,
            "resolution": form.resolution,
            "freeze_backbone": form.freeze,
        }
    return TrainConfig.from_dict(values)


def check_trainable(data: CifarData) -> None:
    """Refuse, before a run is created, a source without labelled training images (a test set alone)."""
    if not data.has_labels("train"):
        raise DataError(
            "This source has no labelled training images (only a test set or unlabelled images), so nothing can "
            "be trained on it: choose a source with training images on the Dataset page."
        )
