"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from cifar_core.errors import CheckpointError


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write(file)`` into a temp file beside ``path``, fsync, then rename over it.

    On any failure (a full disk included) the temp file is removed and ``path`` keeps its old
    content; ENOSPC becomes a ``CheckpointError`` that says the disk is full.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise CheckpointError(f"Disk full while writing {path}; the previous version was kept.") from exc
        raise


def write_json_atomic(path: Path, value: Any) -> None:
    """Atomically write ``value`` as pretty JSON."""
    text = json.dumps(value, indent=2, sort_keys=True).encode()
    write_atomic(path, lambda handle: handle.write(text))

