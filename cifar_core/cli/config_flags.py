"""The ``train`` flags, shared by ``train`` and ``study`` so both build configs the same way.

Every config flag is made from its field's row of the table (``TrainConfig``'s declarations):
its name, type and help sentence. Flags left out keep the preset's (or the config's default)
value, so each defaults to None ("not given"); the range is the config's to check, so a bad value
gets the same sentence from the CLI as from the app. Only the model-option shortcuts
(``--weights``, ``--resolution``, ...) are written here: they set keys inside ``model_options``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from cifar_core.errors import ConfigError
from cifar_core.train import TrainConfig
from cifar_core.train.config import CONFIG_FIELDS
from cifar_core.train.fields import ConfigField
from cifar_core.train.presets import get_preset

FLAG_FIELDS = tuple(name for name, field in CONFIG_FIELDS.items() if field.flag)
"""The config fields a ``train`` flag sets (the flag's ``dest`` is the field's name)."""


def comma_list(text: str) -> list[str]:
    """A list flag's value: ``"rotation, cutmix"`` -> ``["rotation", "cutmix"]``; ``""`` -> ``[]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def flag_arguments(field: ConfigField) -> dict[str, Any]:
    """``add_argument``'s keywords for ``field``'s flag: a yes/no field gets ``--x``/``--no-x``."""
    arguments: dict[str, Any] = {"dest": field.name, "default": None, "help": field.help}
    if field.type is bool:
        return {**arguments, "action": argparse.BooleanOptionalAction}
    metavar = field.flag.removeprefix("--").replace("-", "_").upper()  # named after the flag: --ops OPS
    return {**arguments, "type": comma_list if field.type is list else field.type, "metavar": metavar}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Add every config flag (default None = 'not given')."""
    group = parser.add_argument_group("training configuration")
    group.add_argument("--preset", default=None, help="start from a named recipe (see `presets`); flags override it")
    for name in FLAG_FIELDS:
        group.add_argument(CONFIG_FIELDS[name].flag, **flag_arguments(CONFIG_FIELDS[name]))
    group.add_argument("--weights", dest="weights_path", default=None, help="ImageNet weights file for mobilenet_v3_large")
    group.add_argument("--no-pretrained", dest="pretrained", action="store_false", default=None, help="random init for mobilenet_v3_large")
    group.add_argument("--resolution", type=int, default=None, help="input size for mobilenet_v3_large (study: 224)")
    group.add_argument("--freeze-backbone", action="store_true", default=None, help="train only the new head")
    group.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any model option, e.g. widths=[32,64,128] or dirac_init=false for fast_cnn (repeatable)",
    )


def anchored(path: str) -> str:
    """``path`` made absolute against the folder the command runs in, when it names something there.

    A run's config.json is read again later (``evaluate --run``, resume, the app) from whatever
    folder that happens in; ``--data ../shared/x.tar.gz`` must still mean the same file then.
    Anything that is not an existing path (``synthetic``, a typo the loader will name) is kept as typed.
    """
    expanded = os.path.expanduser(path)
    return os.path.abspath(expanded) if os.path.exists(expanded) else path


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge the preset's values (if any) with the flags that were given, then validate."""
    values: dict[str, Any] = dict(get_preset(args.preset).values) if args.preset else {}
    for name in FLAG_FIELDS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    options = model_options(args, dict(values.get("model_options", {})))
    if options:
        values["model_options"] = options
    if isinstance(values.get("data"), str):
        values["data"] = anchored(values["data"])
    return TrainConfig.from_dict(values)


def model_options(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (the preset's) with the shortcut flags and every ``--model-option NAME=JSON`` applied."""
    for option in ("weights_path", "pretrained", "resolution", "freeze_backbone"):
        if getattr(args, option) is not None:
            options[option] = getattr(args, option)
    for item in args.model_option:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--model-option takes NAME=JSON, e.g. widths=[32,64,128]; got {item!r}.")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"--model-option {name}: {value!r} is not JSON (use true/false, numbers, [lists]).") from None
    if isinstance(options.get("weights_path"), str):
        options["weights_path"] = anchored(options["weights_path"])
    return options
