"""Comparing runs' configurations: which settings differ between two runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def config_diff(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(field, first value, second value)`` for every field that differs, nested fields dotted.

    Nested dicts (``model_options``, ``augment_params``) are compared key by key so the table
    names the exact option that changed; a key missing on one side shows as ``None``.
    """
    rows: list[tuple[str, Any, Any]] = []
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            rows.extend((f"{key}.{name}", x, y) for name, x, y in config_diff(a, b))
        elif a != b:
            rows.append((key, a, b))
    return rows


def readable_value(value: Any) -> str:
    """A config value as a person reads it: ``0.2``, ``sgd``, ``hflip, translate``, ``yes``, ``–`` for none."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable_value(item) for item in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{key} {readable_value(item)}" for key, item in value.items()) or "none"
    return str(value)
