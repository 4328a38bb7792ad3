"""A run's events mirrored into TensorBoard, so ``tensorboard --logdir checkpoints`` shows our runs.

The run folder's ``metrics.jsonl`` stays the source of truth; the event files under
``<run>/tensorboard/`` are a view of it for people who live in TensorBoard. Writing them is best
effort: a failure (a full disk, say) switches the mirror off and never stops training.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
CELL_PX = 12  # each confusion-matrix cell drawn as a CELL_PX square
STEP_SCALARS = {"train_loss": "step/train_loss", "lr": "step/learning_rate", "images_per_s": "step/images_per_s"}
EPOCH_SCALARS = {
    "train_loss": "epoch/train_loss",
    "train_acc": "epoch/train_accuracy",
    "val_loss": "epoch/val_loss",
    "val_acc": "epoch/val_accuracy",
    "images_per_s": "epoch/images_per_s",
    "epoch_s": "epoch/seconds",
}


def confusion_image(confusion: list[list[int]]) -> np.ndarray:
    """A row-normalised confusion matrix as an HWC uint8 picture: white (0) to dark blue (1)."""
    counts = np.asarray(confusion, dtype=np.float64)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    cells = white + share[..., None] * (blue - white)
    return np.kron(cells, np.ones((CELL_PX, CELL_PX, 1))).round().astype(np.uint8)


class TensorBoardMirror:
    """An event sink (like ``Run.append_event``) that writes TensorBoard summaries."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer: Any = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))

    def __call__(self, event: dict[str, Any]) -> None:
        if self.writer is None:
            return
        try:
            self._write(event)
        except OSError as exc:
            log.warning("TensorBoard mirror switched off: %s", exc)
            self.close()

    def _write(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "step":
            for key, tag in STEP_SCALARS.items():
                if isinstance(event.get(key), (int, float)):
                    self.writer.add_scalar(tag, event[key], event["global_step"], walltime=event.get("time"))
        elif kind == "epoch":
            for key, tag in EPOCH_SCALARS.items():
                if isinstance(event.get(key), (int, float)):
                    self.writer.add_scalar(tag, event[key], event["epoch"], walltime=event.get("time"))
            if event.get("confusion"):
                self.writer.add_image("epoch/val_confusion", confusion_image(event["confusion"]), event["epoch"], dataformats="HWC")
            self.writer.flush()  # one flush an epoch: TensorBoard sees progress without per-step I/O

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError:
                pass
            self.writer = None
