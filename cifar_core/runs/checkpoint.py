"""Checkpoints: atomic writes, and loads that refuse anything that is not ours.

Loading always uses ``weights_only=True``, so a tampered file cannot run code; a file that loads
but lacks our format marker is reported as foreign instead of failing later with a KeyError.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from cifar_core.errors import CheckpointError
from cifar_core.runs.atomic import write_atomic

CHECKPOINT_FORMAT = "cifar-explorer-checkpoint"
REQUIRED_KEYS = ("config", "classes", "epoch", "model")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (old checkpoint kept if the write fails)."""
    write_atomic(Path(path), lambda handle: torch.save(payload, handle))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check a checkpoint written by ``save_checkpoint``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a loadable cifar-explorer checkpoint (corrupt, truncated or containing "
            f"objects that are not plain weights): {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a cifar-explorer checkpoint.")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is damaged or from another tool.")
    return payload
