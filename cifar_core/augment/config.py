"""The plain, JSON-round-trippable description of an augmentation pipeline.

Trainer, CLI and app all build their pipeline from this one config, so it validates eagerly: an
unknown op, a probability outside ``[0, 1]`` or a parameter out of range raises ``ConfigError``
with a sentence naming the op and value, before any image is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cifar_core.augment.ops import REGISTRY, names
from cifar_core.augment.spec import number
from cifar_core.errors import ConfigError

STANDARD_OPS: tuple[str, ...] = names("standard")
MIX_OPS: tuple[str, ...] = names("mix")
OP_NAMES: tuple[str, ...] = STANDARD_OPS + MIX_OPS


@dataclass
class OpConfig:
    """One op: its name, the per-image probability of applying it, and optional parameters.

    ``params`` keeps exactly what the user gave (so configs round-trip unchanged); ``resolved``
    merges in the defaults. Each op's parameters, ranges and rules are its spec's
    (``augment/ops/<name>.py``).
    """

    name: str
    p: float
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resolved()

    def resolved(self) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises ``ConfigError`` naming the fault."""
        if not isinstance(self.name, str) or self.name not in REGISTRY:
            raise ConfigError(f"Unknown augmentation op {self.name!r}; choose from {', '.join(OP_NAMES)}.")
        try:
            p = number(self.p)
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"Probability p for {self.name} must be a number in [0, 1], got {self.p!r}.")
        if not isinstance(self.params, dict):
            raise ConfigError(f"Parameters for {self.name} must be a mapping, got {self.params!r}.")
        op = REGISTRY[self.name]
        unknown = sorted(set(self.params) - set(op.params))
        if unknown:
            allowed = ", ".join(op.params) or "none"
            raise ConfigError(f"Unknown parameter(s) {', '.join(unknown)} for {self.name}; allowed: {allowed}.")
        resolved = {}
        for key, param in op.params.items():
            value = self.params.get(key, param.default)
            try:
                resolved[key] = None if value is None else param.check(value)
            except ValueError as exc:
                raise ConfigError(f"Bad {self.name} parameter {key}: {exc}.") from None
        try:
            op.check(resolved, self.params)
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None
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
