"""The ``train`` flags, shared by ``train`` and ``study`` so both build configs the same way.

Every flag maps one-to-one onto a ``TrainConfig`` field; flags left out keep the preset's (or the
config's default) value.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cifar_core.errors import ConfigError
from cifar_core.train import TrainConfig
from cifar_core.train.presets import get_preset

# flag dest -> TrainConfig field
FIELD_FLAGS: dict[str, tuple[str, type, str]] = {
    "model": ("--model", str, "model name (see `presets` / the registry)"),
    "data": ("--data", str, "dataset path (folder or archive) or 'synthetic'"),
    "epochs": ("--epochs", int, "number of epochs (a cap when --budget-minutes is given)"),
    "budget_minutes": ("--budget-minutes", float, "fit the schedule into this many minutes on this device"),
    "batch_size": ("--batch-size", int, "images per step"),
    "lr": ("--lr", float, "base learning rate"),
    "dropout": ("--dropout", float, "dropout rate"),
    "aug_p": ("--aug-p", float, "probability of each standard augmentation"),
    "mix_p": ("--mix-p", float, "probability of CutMix/MixUp"),
    "val_fraction": ("--val-fraction", float, "stratified validation fraction"),
    "limit": ("--limit", int, "use a class-balanced subset of this many training images"),
    "seed": ("--seed", int, "seed for init, split, shuffle and augmentation"),
    "split_seed": ("--split-seed", int, "seed for the subset and validation split only (default: --seed)"),
    "optimizer": ("--optimizer", str, "adam or sgd (Nesterov)"),
    "schedule": ("--schedule", str, "constant, cosine, onecycle or triangle"),
    "warmup_epochs": ("--warmup-epochs", float, "linear LR warm-up length"),
    "weight_decay": ("--weight-decay", float, "weight decay"),
    "bias_lr_scale": ("--bias-lr-scale", float, "learning-rate multiplier for BatchNorm shifts"),
    "label_smoothing": ("--label-smoothing", float, "label smoothing"),
    "device": ("--device", str, "auto, cpu, cuda or mps"),
    "precision": ("--precision", str, "auto (bf16 where native), fp32 or bf16"),
    "log_every": ("--log-every", int, "steps between running-loss events"),
    "muon_lr": ("--muon-lr", float, "train conv filters with Muon at this learning rate (off by default)"),
    "val_every": ("--val-every", int, "validate every N epochs (and after the last)"),
    "checkpoint_every": (
        "--checkpoint-every",
        int,
        "write checkpoints every N epochs (and after the last); a crash loses up to N-1 epochs",
    ),
}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Add every config flag (default None = 'not given')."""
    group = parser.add_argument_group("training configuration")
    group.add_argument("--preset", default=None, help="start from a named recipe (see `presets`); flags override it")
    for dest, (flag, kind, help_text) in FIELD_FLAGS.items():
        group.add_argument(flag, dest=dest, type=kind, default=None, help=help_text)
    group.add_argument(
        "--ops", default=None, help="comma-separated augmentations, e.g. rotation,resized_crop,translate,cutmix ('' for none)"
    )
    group.add_argument("--no-shuffle", dest="shuffle", action="store_false", default=None, help="keep the data order")
    group.add_argument("--train-on-full", action="store_true", default=None, help="train on train+val (final model)")
    group.add_argument(
        "--lookahead", action=argparse.BooleanOptionalAction, default=None, help="slow-weight averaging (the fast recipe's default)"
    )
    group.add_argument(
        "--sync-bn",
        dest="sync_batchnorm",
        action="store_true",
        default=None,
        help="under torchrun: synchronise BatchNorm statistics across processes",
    )
    group.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the model (one-off compile time)"
    )
    group.add_argument(
        "--augment-per-epoch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="augment the whole training set once per epoch (faster on a GPU)",
    )
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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge the preset's values (if any) with the flags that were given, then validate."""
    values: dict[str, Any] = dict(get_preset(args.preset).values) if args.preset else {}
    for dest in FIELD_FLAGS:
        if getattr(args, dest) is not None:
            values[dest] = getattr(args, dest)
    if args.ops is not None:
        values["augment_ops"] = [op.strip() for op in args.ops.split(",") if op.strip()]
    for flag in ("shuffle", "train_on_full", "lookahead", "sync_batchnorm", "compile", "augment_per_epoch"):
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    options = dict(values.get("model_options", {}))
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
    if options:
        values["model_options"] = options
    return TrainConfig.from_dict(values)
