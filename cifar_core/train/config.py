"""One validated configuration for a training run, and the one table of its fields.

Each field is declared once, in ``TrainConfig``'s body, with what it accepts, its help sentence,
its ``train`` flag and its widget on the Train page (``train/fields.py``). The config serialises
to the run's ``config.json`` and checks every value on construction, so a bad slider or flag is
refused with a sentence naming the field before any work starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cifar_core.augment import OP_NAMES, AugmentConfig
from cifar_core.errors import ConfigError
from cifar_core.models import MODEL_REGISTRY
from cifar_core.models.registry import check_model_options
from cifar_core.train.fields import ConfigField, Widget, declared_fields, setting

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle", "triangle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")  # here, not in device.py, so that checking a config needs no torch
STUDY_OPS = ("rotation", "resized_crop", "translate", "cutmix")
SEED_RANGE = (0, 2**31 - 1)
EPOCH_RANGE = (1, 10_000)


@dataclass
class TrainConfig:
    """Everything that decides a run's result. Defaults are the study's chosen settings.

    Each ``setting()`` is a row of the config's one table: ``validate`` checks its range or
    choices, ``cli/config_flags.py`` makes its flag and ``app/train_form.py`` its widget from it.
    """

    model: str = setting(
        "simple_cnn",
        choices=MODEL_REGISTRY.keys(),  # a live view: a model registered later is a valid choice too
        flag="--model",
        widget=Widget("select"),
        help=(
            "the network to train. Simple CNN (simple_cnn): the study's small network, learned from scratch on CIFAR-10 alone. "
            "MobileNetV3-Large (mobilenet_v3_large): a bigger network that already learned to see on ImageNet photos and is "
            "adapted to CIFAR-10; slow on a CPU. Fast CNN (fast_cnn): a small network built to reach good accuracy in minutes"
        ),
    )
    model_options: dict[str, Any] = setting(
        factory=dict,
        help="the chosen model's own options (layer widths, pretrained weights, input size)",
        checked_by="check_model_options in validate(): which options exist depends on the model",
    )
    data: str | None = setting(
        None, flag="--data", help="dataset path (folder or archive) or 'synthetic'", checked_by="the data loader, which names what is wrong"
    )
    # regularisation
    dropout: float = setting(
        0.2,
        between=(0.0, 0.95),
        flag="--dropout",
        widget=Widget("slider", step=0.05),
        help="share of activations randomly zeroed while training: another regularizer",
    )
    aug_p: float = setting(
        0.06, between=(0.0, 1.0), flag="--aug-p", widget=Widget("slider", step=0.01), help="probability of each standard augmentation"
    )
    mix_p: float = setting(0.03, between=(0.0, 1.0), flag="--mix-p", widget=Widget("slider", step=0.01), help="probability of CutMix/MixUp")
    augment_ops: list[str] = setting(
        factory=lambda: list(STUDY_OPS),
        flag="--ops",
        help="comma-separated augmentations, e.g. rotation,resized_crop,translate,cutmix ('' for none)",
        checked_by="validate(): each name against the augmentation registry",
    )
    augment_params: dict[str, dict[str, Any]] = setting(
        factory=dict,
        help="each augmentation's parameters; a 'p' among them gives that op its own probability",
        checked_by="AugmentConfig, op by op, in validate(), for ops in augment_ops only",
    )
    weight_decay: float = setting(0.0, between=(0.0, 1.0), flag="--weight-decay", help="weight decay")
    bias_lr_scale: float = setting(
        1.0,
        between=(1e-3, 1000.0),
        flag="--bias-lr-scale",
        help="learning-rate multiplier for BatchNorm shifts (their weight decay is divided by it)",
    )
    label_smoothing: float = setting(0.0, between=(0.0, 0.5), flag="--label-smoothing", help="label smoothing")
    # training
    batch_size: int = setting(256, between=(2, 8192), flag="--batch-size", widget=Widget("number", step=32), help="images per step")
    lr: float = setting(
        1e-3,
        between=(1e-7, 10.0),
        flag="--lr",
        widget=Widget("number", step=1e-4, format="%.5f"),
        help="base learning rate: how big each weight update is; too high and the loss jumps about, too low and it crawls",
    )
    shuffle: bool = setting(
        True,
        flag="--shuffle",
        widget=Widget("checkbox"),
        help="deal the training images out in a new random order every epoch; off, every epoch sees the same order",
    )
    epochs: int = setting(
        10,
        between=EPOCH_RANGE,
        flag="--epochs",
        widget=Widget("number", step=1),
        help="number of epochs; with a time budget, the count for the recipe's own budget: a larger budget trains more epochs, "
        "a smaller one fewer",
    )
    # The budget box starts at 5 minutes when ticked; the box itself refuses a budget under the
    # minimum (typing 0 while editing a budget keeps the last budget rather than showing an error).
    budget_minutes: float | None = setting(
        None,
        between=(0.05, 24 * 60),
        flag="--budget-minutes",
        widget=Widget("number", step=1.0, start=5.0, floor=True),
        help="fit the schedule into this many minutes on this device (docs/budget.md)",
    )
    budget_stretch: bool = setting(
        True,
        help="under a budget, epochs is the count for the recipe's reference budget: a larger budget trains more epochs with "
        "warm-up and schedule stretched to match; false makes epochs a cap (a lever to measure)",
    )
    optimizer: str = setting("adam", choices=OPTIMIZERS, flag="--optimizer", help="adam or sgd (Nesterov)")
    momentum: float = setting(0.9, between=(0.0, 0.999), help="the sgd optimizer's Nesterov momentum")
    schedule: str = setting("constant", choices=SCHEDULES, flag="--schedule", help="constant, cosine, onecycle or triangle")
    warmup_epochs: float = setting(0.0, between=(0.0, "epochs"), flag="--warmup-epochs", help="linear LR warm-up length")
    lookahead: bool = setting(
        False, flag="--lookahead", help="slow-weight averaging every few steps (train/lookahead.py; the fast_wide recipe's default)"
    )
    sync_batchnorm: bool = setting(
        False, flag="--sync-bn", help="under torchrun: synchronise BatchNorm statistics over every process's share of a batch"
    )
    muon_lr: float | None = setting(
        None, between=(1e-6, 10.0), flag="--muon-lr", help="train conv filters with Muon at this learning rate (off by default)"
    )
    muon_momentum: float = setting(0.6, between=(0.0, 0.999), help="Muon's momentum")
    muon_batched: bool = setting(True, help="orthogonalise same-shape filters as one stack (the same update, fewer GPU launches)")
    # speed (results are the same in distribution, not bit for bit, when switched)
    augment_per_epoch: bool = setting(
        False, flag="--augment-per-epoch", help="augment the whole training set once per epoch in one batched call (faster on a GPU)"
    )
    compile: bool = setting(False, flag="--compile", help="torch.compile the model (one-off compile time)")
    val_every: int = setting(1, between=EPOCH_RANGE, flag="--val-every", help="validate every N epochs (and after the last)")
    checkpoint_every: int = setting(
        1,
        between=EPOCH_RANGE,
        flag="--checkpoint-every",
        help="write checkpoints every N epochs (and after the last); a crash loses up to N-1 epochs",
    )
    # data handling
    val_fraction: float = setting(0.2, between=(0.0, 0.9), flag="--val-fraction", help="stratified validation fraction")
    # The limit box starts at 10,000 images when ticked: 2,000 images at batch 256 gave the simple
    # CNN only 7 steps an epoch, too few to leave chance level in 1-3 epochs.
    limit: int | None = setting(
        None,
        between=(20, 10_000_000),
        flag="--limit",
        widget=Widget("number", step=500, start=10_000),
        help="train on a class-balanced subset of this many images, the validation fraction of them (a fifth by default) held out",
    )
    train_on_full: bool = setting(False, flag="--train-on-full", help="train on train+val (final model)")
    seed: int = setting(
        0, between=SEED_RANGE, flag="--seed", widget=Widget("number", step=1), help="seed for init, split, shuffle and augmentation"
    )
    split_seed: int | None = setting(
        None, between=SEED_RANGE, flag="--split-seed", help="seed for the subset and validation split only (default: --seed)"
    )
    device: str = setting("auto", choices=DEVICES, flag="--device", help="auto, cpu, cuda or mps")
    precision: str = setting(
        "auto", choices=PRECISIONS, flag="--precision", help="auto (bf16 where the hardware computes it natively), fp32 or bf16"
    )
    log_every: int = setting(20, between=(1, 100_000), flag="--log-every", help="steps between running-loss events")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first out-of-range or inconsistent field.

        Each field's own range, choices or yes/no comes from its row of the table, in the class's
        order (epochs before the warm-up it bounds: "-5 epochs" is about epochs); the rules that
        tie fields together follow.
        """
        for field in CONFIG_FIELDS.values():
            field.check(self)
        check_model_options(self.model, self.model_options)
        unknown_ops = [op for op in self.augment_ops if op not in OP_NAMES]
        if unknown_ops:
            raise ConfigError(f"Unknown augmentation(s) {', '.join(unknown_ops)}; choose from {', '.join(OP_NAMES)}.")
        stray = [op for op in self.augment_params if op not in self.augment_ops]
        if stray:
            raise ConfigError(f"augment_params given for {', '.join(stray)}, which is not in augment_ops.")
        if self.schedule == "triangle" and self.warmup_epochs:
            raise ConfigError("The triangle schedule has its own warm-up (23% of the run); set warmup_epochs to 0.")
        if not self.train_on_full and self.val_fraction == 0:
            raise ConfigError("val_fraction must be above 0 unless train_on_full is set (nothing to validate on).")
        self.augment_config()  # validates per-op parameters

    def augment_config(self) -> AugmentConfig:
        """The augmentation pipeline config this run trains with.

        ``augment_params[op]`` holds the op's parameters; a ``p`` among them gives that op its own
        probability instead of its group's (``aug_p``/``mix_p``), e.g. shifts on every image but
        mirroring on half of them.
        """
        config = AugmentConfig.study(self.aug_p, self.mix_p, ops=self.augment_ops)
        for op in config.ops:
            params = dict(self.augment_params.get(op.name, {}))
            op.p = params.pop("p", op.p)
            op.params.update(params)
        return AugmentConfig.from_dict(config.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the run's ``config.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys so typos are not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"Unknown config field(s): {', '.join(sorted(unknown))}.")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"Bad config: {exc}") from exc

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some fields changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


CONFIG_FIELDS: dict[str, ConfigField] = declared_fields(TrainConfig)
"""The table: every ``TrainConfig`` field's row, in the class's order."""
