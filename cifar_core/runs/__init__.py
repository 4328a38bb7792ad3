"""Run folders on disk: config, metrics, status, checkpoints; and the processes that fill them.

The store imports without torch (``runs list`` must start at once); the checkpoint functions,
which need torch, are imported on first use.
"""

from typing import TYPE_CHECKING

from cifar_core.runs.store import Run, RunStore, default_runs_root

if TYPE_CHECKING:
    from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["Run", "RunStore", "default_runs_root", "load_checkpoint", "save_checkpoint"]


def __getattr__(name: str) -> object:
    """``load_checkpoint`` and ``save_checkpoint`` from ``checkpoint``, imported when first asked for."""
    if name in ("load_checkpoint", "save_checkpoint"):
        from cifar_core.runs import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
