"""What one augmentation operation is: the contract every file in ``augment/ops/`` fills in.

An ``OpSpec`` holds everything the project knows about one op, so that config validation, the
pipeline, the preview grid, the lab's captions and widgets and the CLI all loop over one registry
instead of each keeping its own if/elif chain (as torchvision v2 keeps an op's parameters and its
transform in one class). The registry lives in ``augment.ops``; adding an op is one file there.

Standard ops (``kind="standard"``) change pixels only; mix ops (``kind="mix"``) also mix soft
labels with a partner image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # torch is imported by the ops' methods, not here: validating a config.json needs no torch
    import torch
    from torch import Tensor

Describe = Callable[[], list[dict[str, Any]]]
Persist = Callable[[str, Any], dict[str, Any]]


@dataclass(frozen=True)
class Param:
    """One parameter: its default (``None``: off unless given) and a checker returning the normalised value."""

    default: Any
    check: Callable[[Any], Any]


@dataclass(frozen=True)
class Partners:
    """The partner of each mixed image: pixels, soft labels, and where it came from."""

    images: Tensor
    soft_labels: Tensor
    index: Tensor  # position in the batch, or in the pool
    source: str  # "batch" or "pool"


class OpSpec:
    """One augmentation op. Subclasses set the class attributes and override what applies to them.

    ``order`` places the op in ``OP_NAMES`` (the order menus and the CLI list them in); ``title``
    is its name for people. ``apply`` (standard) or ``mix`` (mix ops) gets only the images that
    drew "apply" and returns the new pixels plus a ``describe`` building one record entry per
    image, called only when the caller asked for records, so training never builds dicts.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[str] = "standard"
    order: ClassVar[int] = 100
    params: ClassVar[Mapping[str, Param]] = {}

    def check(self, resolved: dict[str, Any], given: Mapping[str, Any]) -> None:
        """Rules across parameters; raise ``ValueError`` with the sentence to show."""

    def mask(self, count: int, p: float, params: dict[str, Any], generator: torch.Generator, **context: Any) -> Tensor:
        """Bool ``[count]``: which images get the op (each draws with probability ``p``)."""
        from cifar_core.augment.sampling import sample_apply_mask

        return sample_apply_mask(count, p, generator)

    def apply(self, images: Tensor, params: dict[str, Any], generator: torch.Generator) -> tuple[Tensor, Describe]:
        raise NotImplementedError

    def mix(
        self, images: Tensor, soft_labels: Tensor, partners: Partners, params: dict[str, Any], generator: torch.Generator
    ) -> tuple[Tensor, Tensor, Describe]:
        raise NotImplementedError

    def caption(self, entry: Mapping[str, Any]) -> str:
        """One applied op from a pipeline record, in words (the lab's image captions)."""
        return self.title.lower()

    def tag(self, entry: Mapping[str, Any]) -> str:
        """A few characters for the preview grid, e.g. ``rot90``."""
        return self.name

    def summary(self, params: dict[str, Any]) -> str:
        """What the op does with these (resolved) parameters, after its title: "by 90° or 180°"."""
        return ""

    def controls(self, ui: Any, persist: Persist, disabled: bool) -> dict[str, Any]:
        """Draw the op's widgets with ``ui`` (the ``streamlit`` module) and return the parameters they set.

        ``persist(suffix, default)`` gives a widget's key arguments. Parameters the widgets do not
        set keep the value they had (see ``widget_params``).
        """
        return {}

    def widget_values(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{suffix: value}`` that puts the widgets of ``controls`` at these resolved parameters."""
        return {}

    widget_params: ClassVar[tuple[str, ...]] = ()
    """The parameters ``controls`` owns: they replace, the others ride along unchanged."""


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def pair(low: float, high: float, *, low_open: bool = False) -> Callable[[Any], tuple[float, float]]:
    """Checker for a ``[lo, hi]`` range with ``lo <= hi`` inside ``[low, high]``."""

    def check(value: Any) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"{value!r} is not a [low, high] pair")
        lo, hi = number(value[0]), number(value[1])
        if lo > hi or lo < low or hi > high or (low_open and lo == low):
            bracket = "(" if low_open else "["
            raise ValueError(f"{value!r} must satisfy low <= high within {bracket}{low:g}, {high:g}]")
        return lo, hi

    return check


def positive(high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        checked = number(value)
        if not 0 < checked <= high:
            raise ValueError(f"{value!r} must be in (0, {high:g}]")
        return checked

    return check


def pixels(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise ValueError(f"{value!r} is not a whole number of pixels in [1, 4096]")
    return value


def one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def share(weight: float) -> str:
    """A share in words: whole percent, but a small patch (a 2x2 box is 0.4%) is never called 0%."""
    return f"{weight:.0%}" if weight >= 0.01 or weight == 0 else f"{weight:.1%}"
