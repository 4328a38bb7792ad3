"""One validated configuration for a training run.

It maps one-to-one onto the CLI's ``train`` flags and the app's widgets, serialises to the run's
``config.json`` and checks every value on construction, so a bad slider or flag is refused with a
sentence naming the field before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from cifar_core.augment import OP_NAMES, AugmentConfig
from cifar_core.errors import ConfigError
from cifar_core.models import MODEL_REGISTRY
from cifar_core.models.registry import check_model_options

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle", "triangle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")  # here, not in device.py, so that checking a config needs no torch
STUDY_OPS = ("rotation", "resized_crop", "translate", "cutmix")


@dataclass
class TrainConfig:
    """Everything that decides a run's result. Defaults are the study's chosen settings."""

    model: str = "simple_cnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    # regularisation
    dropout: float = 0.2
    aug_p: float = 0.06
    mix_p: float = 0.03
    augment_ops: list[str] = field(default_factory=lambda: list(STUDY_OPS))
    augment_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    weight_decay: float = 0.0
    bias_lr_scale: float = 1.0  # learning-rate multiplier for BatchNorm shifts (weight decay divided by it)
    label_smoothing: float = 0.0
    # training
    batch_size: int = 256
    lr: float = 1e-3
    shuffle: bool = True
    epochs: int = 10
    budget_minutes: float | None = None  # fit the schedule to this wall time (docs/budget.md)
    # under a budget, epochs is the count for the recipe's reference budget: a larger budget trains
    # more epochs with warm-up and schedule stretched to match; False makes epochs a cap (a lever to measure)
    budget_stretch: bool = True
    optimizer: str = "adam"
    momentum: float = 0.9
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    lookahead: bool = False  # slow-weight averaging every few steps (train/lookahead.py)
    sync_batchnorm: bool = False  # under torchrun: BatchNorm statistics over every rank's share of a batch
    muon_lr: float | None = None  # conv filters trained with Muon at this learning rate (train/optim.py); None: off
    muon_momentum: float = 0.6
    muon_batched: bool = True  # same-shape filters orthogonalised as one stack (same update, fewer GPU launches)
    # speed (results are the same in distribution, not bit for bit, when switched)
    augment_per_epoch: bool = False  # augment the whole training set once per epoch in one batched call
    compile: bool = False  # torch.compile the model (a one-off compilation first)
    val_every: int = 1  # validate every N epochs (and always after the last)
    checkpoint_every: int = 1  # write last.pt/best.pt every N epochs (and always after the last): opt-in for benchmarks
    # data handling
    val_fraction: float = 0.2
    limit: int | None = None
    train_on_full: bool = False
    seed: int = 0
    split_seed: int | None = None  # fixes the limit subset and val split across seeds (None: use seed)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 where the hardware computes it natively, else fp32
    log_every: int = 20

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first out-of-range or inconsistent field."""
        _choice("model", self.model, tuple(MODEL_REGISTRY))
        check_model_options(self.model, self.model_options)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _in_range("dropout", self.dropout, 0.0, 0.95)
        _in_range("aug_p", self.aug_p, 0.0, 1.0)
        _in_range("mix_p", self.mix_p, 0.0, 1.0)
        _in_range("weight_decay", self.weight_decay, 0.0, 1.0)
        _in_range("label_smoothing", self.label_smoothing, 0.0, 0.5)
        _in_range("lr", self.lr, 1e-7, 10.0)
        _in_range("momentum", self.momentum, 0.0, 0.999)
        _in_range("bias_lr_scale", self.bias_lr_scale, 1e-3, 1000.0)
        _in_range("val_fraction", self.val_fraction, 0.0, 0.9)
        _integer("epochs", self.epochs, 1, 10_000)  # before the warm-up it bounds: "-5 epochs" is about epochs
        _in_range("warmup_epochs", self.warmup_epochs, 0.0, float(self.epochs))
        for name in (
            "shuffle",
            "lookahead",
            "train_on_full",
            "sync_batchnorm",
            "augment_per_epoch",
            "compile",
            "budget_stretch",
            "muon_batched",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false; got {getattr(self, name)!r}.")
        _integer("batch_size", self.batch_size, 2, 8192)
        _integer("seed", self.seed, 0, 2**31 - 1)
        if self.split_seed is not None:
            _integer("split_seed", self.split_seed, 0, 2**31 - 1)
        _integer("log_every", self.log_every, 1, 100_000)
        _integer("val_every", self.val_every, 1, 10_000)
        _integer("checkpoint_every", self.checkpoint_every, 1, 10_000)
        if self.muon_lr is not None:
            _in_range("muon_lr", self.muon_lr, 1e-6, 10.0)
        _in_range("muon_momentum", self.muon_momentum, 0.0, 0.999)
        if self.budget_minutes is not None:
            _in_range("budget_minutes", self.budget_minutes, 0.05, 24 * 60)
        if self.limit is not None:
            _integer("limit", self.limit, 20, 10_000_000)
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


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


def _in_range(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{name} must be a number; got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}; got {value:g}.")


def _integer(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number; got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}; got {value}.")
