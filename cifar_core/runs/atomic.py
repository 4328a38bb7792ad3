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

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# torch.save reports a short write as "[enforce fail at inline_container.cc:…] unexpected pos N vs M"
# and keeps the OSError only as the exception's context (if at all).
TORCH_SHORT_WRITE = "unexpected pos"


def write_atomic(path: Path, write: Callable[[BinaryIO], None], *, make_parent: bool = True) -> None:
    """Write through ``write(file)`` into a temp file beside ``path``, fsync, then rename over it.

    On any failure (a full disk included) the temp file is removed and ``path`` keeps its old
    content; a full disk becomes a ``CheckpointError`` that says so, however torch wrapped it.
    ``make_parent=False`` writes only into an existing folder (``FileNotFoundError`` otherwise), so
    a folder someone removed is not silently re-created.
    """
    if make_parent:
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
        if is_disk_full(exc):
            raise CheckpointError(f"Disk full while writing {path}; the previous version was kept.") from exc
        raise


def is_disk_full(exc: BaseException) -> bool:
    """True if ``exc``, or an exception it wraps, says the disk (or the quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(current, RuntimeError) and TORCH_SHORT_WRITE in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def write_json_atomic(path: Path, value: Any, *, make_parent: bool = True) -> None:
    """Atomically write ``value`` as pretty JSON."""
    text = json.dumps(value, indent=2, sort_keys=True).encode()
    write_atomic(path, lambda handle: handle.write(text), make_parent=make_parent)
