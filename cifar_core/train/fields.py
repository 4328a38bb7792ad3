"""How a config field is declared, and the checks its declaration implies.

``TrainConfig``'s body is the table of fields: each one is declared with ``setting()``, which
holds the values it accepts (a range or choices), its help sentence, its ``train`` flag and its
widget on the Train page. ``TrainConfig.validate``, the CLI's flags (``cli/config_flags.py``) and
the Train form (``app/train_form.py``) all read these declarations, so a range or a default is
written once and the three cannot drift apart. Nothing here imports torch: the CLI's quick
commands build configs without it.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from cifar_core.errors import ConfigError

WIDGET_KINDS = ("select", "slider", "number", "checkbox")
_ROW = "config_field"  # the key of a field's row in its dataclass metadata


@dataclass(frozen=True)
class Widget:
    """How the Train page draws a field.

    ``start`` is the value an optional field's box holds while the config leaves the field off
    (the box appears once its checkbox is ticked). ``floor`` makes the box itself refuse values
    under the field's minimum; every other box takes any number, so that the config's sentence
    naming the field and its range is what a bad value gets.
    """

    kind: str
    step: float | None = None
    format: str | None = None
    start: Any = None
    floor: bool = False


@dataclass(frozen=True)
class ConfigField:
    """One row of the table: what a field accepts, its help sentence, its ``train`` flag and its widget.

    ``between`` is an inclusive range; its upper end may name the field that bounds it (the
    warm-up cannot outlast the run). ``checked_by`` says where a field's check lives when it is
    not a range, choices or a yes/no (a rule across fields, a registry, the data loader): the
    table's own check skips those fields. ``name``, ``type`` (``bool``, ``int``, ``float``, ``str``,
    ``list`` or ``dict``), ``optional`` (None, meaning off, is allowed) and ``default`` come from
    the dataclass field the row declares (``declared_fields``).
    """

    help: str
    between: tuple[float, float | str] | None = None
    choices: tuple[str, ...] | None = None
    flag: str | None = None
    widget: Widget | None = None
    checked_by: str = ""
    name: str = ""
    type: type = object
    optional: bool = False
    default: Any = None

    def bounds(self, values: Any) -> tuple[float, float]:
        """The range ``between`` declares, its named end read from ``values`` (the config being checked)."""
        low, high = self.between
        return low, float(getattr(values, high)) if isinstance(high, str) else high

    def check(self, values: Any) -> None:
        """Raise ``ConfigError`` naming this field when its value in ``values`` is not one it declares."""
        value = getattr(values, self.name)
        if self.checked_by or (value is None and self.optional):
            return
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.name} must be true or false; got {value!r}.")
        elif self.choices is not None:
            if value not in self.choices:
                raise ConfigError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}.")
        elif self.type is int:
            _integer(self.name, value, *self.bounds(values))
        else:
            _in_range(self.name, value, *self.bounds(values))


def setting(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **declaration: Any) -> Any:
    """A dataclass field with its row of the table: ``dropout: float = setting(0.2, between=(0.0, 0.95), help=...)``."""
    return dataclasses.field(default=default, default_factory=factory, metadata={_ROW: ConfigField(**declaration)})


def declared_fields(cls: type) -> dict[str, ConfigField]:
    """Every field of the dataclass ``cls`` with its declaration, in the class's order.

    A field declared without ``setting()`` is an error here, so a new field cannot skip the table.
    """
    hints = typing.get_type_hints(cls)
    table = {}
    for field in dataclasses.fields(cls):
        if _ROW not in field.metadata:
            raise TypeError(f"{cls.__name__}.{field.name} is declared without setting(): give its range, help and flag there.")
        kind, optional = _base_type(hints[field.name])
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        declared = dataclasses.replace(field.metadata[_ROW], name=field.name, type=kind, optional=optional, default=default)
        _check_declaration(declared)
        table[field.name] = declared
    return table


def _base_type(hint: Any) -> tuple[type, bool]:
    """``float | None`` -> (float, True); ``list[str]`` -> (list, False)."""
    arguments = typing.get_args(hint)
    optional = type(None) in arguments
    if optional:
        (hint,) = [argument for argument in arguments if argument is not type(None)]
    return typing.get_origin(hint) or hint, optional


def _check_declaration(field: ConfigField) -> None:
    """A declaration the table's checks can enforce: a range for numbers, choices for names, else ``checked_by``."""
    if field.checked_by:
        return
    needs = {bool: None, int: "between", float: "between", str: "choices"}.get(field.type, "checked_by")
    if needs is not None and getattr(field, needs) in (None, ""):
        raise TypeError(f"Config field {field.name} ({field.type.__name__}) needs {needs}= in its setting().")
    if field.widget is not None and field.widget.kind not in WIDGET_KINDS:
        raise TypeError(f"Config field {field.name}: widget kind {field.widget.kind!r} is not one of {', '.join(WIDGET_KINDS)}.")


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
