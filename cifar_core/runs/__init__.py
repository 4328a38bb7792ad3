"""Run folders on disk: config, metrics, status, checkpoints; and the processes that fill them."""

from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint
from cifar_core.runs.store import Run, RunStore, default_runs_root

__all__ = ["Run", "RunStore", "default_runs_root", "load_checkpoint", "save_checkpoint"]
