"""Checkpoints: atomic writes, and loads that refuse anything that is not ours.

Loading always uses ``weights_only=True``, so a tampered file cannot run code; a file that loads
but lacks our format marker is reported as foreign instead of failing later with a KeyError.
A refused file gets our own sentence: PyTorch's message for it advises ``weights_only=False``,
which is exactly what must never be done with a file we refused as unsafe.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from cifar_core.errors import CheckpointError
from cifar_core.runs.atomic import write_atomic

CHECKPOINT_FORMAT = "cifar-explorer-checkpoint"
REQUIRED_KEYS = ("config", "classes", "epoch", "model")
# What the weights-only unpickler names when it refuses an object, e.g. "GLOBAL posix.system".
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (old checkpoint kept if the write fails).

    The folder must exist: a run folder removed during training is not re-created by its next save.
    """
    write_atomic(Path(path), lambda handle: torch.save(payload, handle), make_parent=False)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check a checkpoint written by ``save_checkpoint``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): its write was cut off, so it holds no weights.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # any failure to parse the file is a refused or damaged file; weights_only runs no code
        refused = _REFUSED_GLOBAL.search(str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if refused:
            raise CheckpointError(
                f"{path} is not a loadable cifar-explorer checkpoint: it holds objects that are not plain weights "
                f"({refused.group(1)}), which could run code when loaded, so it was refused."
            ) from exc
        raise CheckpointError(
            f"{path} is not a loadable cifar-explorer checkpoint (corrupt, truncated or not a PyTorch file{_detail(exc)})."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a cifar-explorer checkpoint.")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is damaged or from another tool.")
    return payload


def _detail(exc: Exception) -> str:
    """PyTorch's first line, unless it is its weights_only advice (never to be repeated for a refused file)."""
    lines = str(exc).strip().splitlines()
    if not lines or "weights_only" in lines[0]:
        return ""
    return f": {lines[0]}"
