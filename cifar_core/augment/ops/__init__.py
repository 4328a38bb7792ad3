"""The registry of augmentation ops: one module per op in this folder, each defining ``SPEC``.

Every module here whose name does not start with ``_`` is imported and its ``SPEC`` (an
``augment.spec.OpSpec``) registered, so adding an op is adding one file (and its test). Ops that
live elsewhere (e.g. image corruptions) call ``register`` with their spec at import time.
"""

from __future__ import annotations

import importlib
import pkgutil

from cifar_core.augment.spec import OpSpec

REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to the registry (kept sorted by ``order``); refuses a second op of the same name."""
    if spec.kind not in ("standard", "mix"):
        raise ValueError(f"Op {spec.name!r} has kind {spec.kind!r}; use 'standard' or 'mix'.")
    if spec.name in REGISTRY and REGISTRY[spec.name] is not spec:
        raise ValueError(f"An augmentation op named {spec.name!r} is already registered.")
    REGISTRY[spec.name] = spec
    ordered = sorted(REGISTRY.values(), key=lambda item: (item.order, item.name))
    REGISTRY.clear()
    REGISTRY.update((item.name, item) for item in ordered)
    return spec


def spec(name: str) -> OpSpec:
    return REGISTRY[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    """Registered op names in order, optionally of one kind (``standard`` or ``mix``)."""
    return tuple(name for name, item in REGISTRY.items() if kind is None or item.kind == kind)


for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        register(importlib.import_module(f"{__name__}.{_module.name}").SPEC)
