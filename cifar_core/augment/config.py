"""The plain, JSON-round-trippable description of an augmentation pipeline.

Trainer, CLI and app all build their pipeline from this one config, so it validates eagerly: an
unknown op, a probability outside ``[0, 1]`` or a parameter out of range raises ``ConfigError``
with a sentence naming the op and value, before any image is touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cifar_core.errors import ConfigError

STANDARD_OPS: tuple[str, ...] = ("rotation", "resized_crop", "translate", "hflip", "cutout")
MIX_OPS: tuple[str, ...] = ("cutmix", "mixup")
OP_NAMES: tuple[str, ...] = STANDARD_OPS + MIX_OPS


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def _pair(low: float, high: float, *, low_open: bool = False) -> Callable[[Any], tuple[float, float]]:
    """Checker for a ``[lo, hi]`` range with ``lo <= hi`` inside ``[low, high]``."""

    def check(value: Any) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"{value!r} is not a [low, high] pair")
        lo, hi = _number(value[0]), _number(value[1])
        if lo > hi or lo < low or hi > high or (low_open and lo == low):
            bracket = "(" if low_open else "["
            raise ValueError(f"{value!r} must satisfy low <= high within {bracket}{low:g}, {high:g}]")
        return lo, hi

    return check


def _positive(high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = _number(value)
        if not 0 < number <= high:
            raise ValueError(f"{value!r} must be in (0, {high:g}]")
        return number

    return check


def _angles(value: Any) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{value!r} is not a non-empty list of angles in degrees")
    angles = tuple(_number(angle) for angle in value)
    if any(abs(angle) > 360 for angle in angles):
        raise ValueError(f"{value!r} has an angle outside [-360, 360]")
    return angles


def _pixels(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise ValueError(f"{value!r} is not a whole number of pixels in [1, 4096]")
    return value


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


# Per op: parameter name -> (default, checker returning the normalised value). A default of None
# means "off unless given".
_PARAMS: dict[str, dict[str, tuple[Any, Callable[[Any], Any]]]] = {
    "rotation": {"angles": ((90.0, 180.0, 270.0), _angles), "degrees": (None, _pair(-360.0, 360.0))},
    "resized_crop": {
        "scale": ((0.08, 1.0), _pair(0.0, 1.0, low_open=True)),
        "ratio": ((3 / 4, 4 / 3), _pair(0.0, 100.0, low_open=True)),
    },
    "translate": {"translate": ((0.1, 0.4), _pair(0.0, 1.0)), "padding": ("zeros", _one_of("zeros", "reflect"))},
    "hflip": {"alternate": (False, _flag)},
    "cutout": {"size": (16, _pixels)},
    "cutmix": {"alpha": (0.3, _positive(100.0))},
    "mixup": {"alpha": (0.3, _positive(100.0))},
}


@dataclass
class OpConfig:
    """One op: its name, the per-image probability of applying it, and optional parameters.

    ``params`` keeps exactly what the user gave (so configs round-trip unchanged); ``resolved``
    merges in the defaults. Parameters: rotation ``angles`` (list, default [90, 180, 270]) or
    ``degrees`` ([lo, hi], uniform arbitrary angle); resized_crop ``scale`` and ``ratio``;
    translate ``translate`` ([tx, ty] fractions of width and height) and ``padding`` (``zeros``:
    black border, ``reflect``: the image mirrored at its edge, up to half the image); hflip
    ``alternate`` (each image mirrored on every other epoch, ``p`` ignored: see the pipeline);
    cutout ``size`` (pixels); cutmix and mixup ``alpha`` (Beta parameter).
    """

    name: str
    p: float
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resolved()

    def resolved(self) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises ``ConfigError`` naming the fault."""
        if not isinstance(self.name, str) or self.name not in _PARAMS:
            raise ConfigError(f"Unknown augmentation op {self.name!r}; choose from {', '.join(OP_NAMES)}.")
        try:
            p = _number(self.p)
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"Probability p for {self.name} must be a number in [0, 1], got {self.p!r}.")
        if not isinstance(self.params, dict):
            raise ConfigError(f"Parameters for {self.name} must be a mapping, got {self.params!r}.")
        known = _PARAMS[self.name]
        unknown = sorted(set(self.params) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ConfigError(f"Unknown parameter(s) {', '.join(unknown)} for {self.name}; allowed: {allowed}.")
        if self.name == "rotation" and {"angles", "degrees"} <= set(self.params):
            raise ConfigError("rotation takes either 'angles' (a set) or 'degrees' (a range), not both.")
        resolved = {}
        for key, (default, check) in known.items():
            value = self.params.get(key, default)
            try:
                resolved[key] = None if value is None else check(value)
            except ValueError as exc:
                raise ConfigError(f"Bad {self.name} parameter {key}: {exc}.") from None
        if self.name == "translate" and resolved["padding"] == "reflect" and max(resolved["translate"]) > 0.5:
            raise ConfigError("translate with reflect padding shifts by at most half the image (translate up to 0.5).")
        return resolved


@dataclass
class AugmentConfig:
    """An ordered list of ops. Standard ops run in list order, then mix ops in list order."""

    ops: list[OpConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.ops, list) or not all(isinstance(op, OpConfig) for op in self.ops):
            raise ConfigError("AugmentConfig.ops must be a list of OpConfig.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: ``{"ops": [{"name", "p", "params"}, ...]}``."""
        return {"ops": [{"name": op.name, "p": op.p, "params": _plain(op.params)} for op in self.ops]}

    @classmethod
    def from_dict(cls, values: Any) -> AugmentConfig:
        """Inverse of ``to_dict``; refuses unknown keys so typos are not silently ignored."""
        if not isinstance(values, dict) or set(values) != {"ops"} or not isinstance(values["ops"], list):
            raise ConfigError('An augmentation config must be {"ops": [...]} and nothing else.')
        ops = []
        for position, entry in enumerate(values["ops"]):
            if not isinstance(entry, dict) or not {"name", "p"} <= set(entry) <= {"name", "p", "params"}:
                raise ConfigError(f'Augmentation op #{position + 1} must have "name", "p" and optional "params".')
            params = entry.get("params") or {}
            ops.append(OpConfig(entry["name"], entry["p"], dict(params) if isinstance(params, dict) else params))
        return cls(ops)

    @classmethod
    def study(
        cls,
        aug_p: float,
        mix_p: float,
        ops: Sequence[str] = ("rotation", "resized_crop", "translate", "cutmix"),
    ) -> AugmentConfig:
        """The study's setup: standard ops with probability ``aug_p``, mix ops with ``mix_p``."""
        unknown = [name for name in ops if name not in OP_NAMES]
        if unknown:
            raise ConfigError(f"Unknown augmentation op(s) {', '.join(unknown)}; choose from {', '.join(OP_NAMES)}.")
        return cls([OpConfig(name, mix_p if name in MIX_OPS else aug_p) for name in ops])


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so ``to_dict`` output equals its JSON round trip."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
