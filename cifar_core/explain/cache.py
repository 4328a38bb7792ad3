"""Results of slow explain computations kept in the run folder, under ``<run>/explain/``.

A file is reused only while its key matches: the checkpoint it was computed from (name and
modification time, so a run that saves a better ``best.pt`` gets a fresh map), the split and the
data source. Files are plain JSON written atomically, so a reader never sees half of one and an
interrupted write leaves the old one. Only files this module names are ever written here.
"""

from __future__ import annotations

import json
from typing import Any

from cifar_core.errors import CheckpointError
from cifar_core.runs import Run
from cifar_core.runs.atomic import write_atomic

FOLDER = "explain"
MAX_CACHE_BYTES = 50 * 1024 * 1024
"""A cache file above this size is not ours to read (5,000 points take about 0.4 MB)."""


def checkpoint_key(run: Run, which: str) -> dict[str, Any]:
    """What a cached result depends on in the run: which checkpoint and its modification time."""
    path = run.checkpoint_path(which)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise CheckpointError(f"Run {run.id} has no {which}.pt yet: it saves one after its first epoch.") from None
    return {"checkpoint": which, "checkpoint_mtime_ns": stamp}


def read(run: Run, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached value stored under ``name`` with exactly ``key``, else ``None`` (missing, stale or unreadable)."""
    path = run.dir / FOLDER / name
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_CACHE_BYTES:
            return None
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    return stored.get("value")


def write(run: Run, name: str, key: dict[str, Any], value: dict[str, Any]) -> None:
    """Store ``value`` under ``name`` atomically, replacing an older version."""
    text = json.dumps({"key": key, "value": value}, separators=(",", ":")).encode()
    write_atomic(run.dir / FOLDER / name, lambda handle: handle.write(text))
