"""A run's events mirrored into TensorBoard, so ``tensorboard --logdir checkpoints`` shows our runs.

The run folder's ``metrics.jsonl`` stays the source of truth; the event files under
``<run>/tensorboard/`` are a view of it for people who live in TensorBoard: curves every step and
epoch, the validation confusion matrix as a labelled picture every epoch, and at the run's end its
config and final metrics for TensorBoard's HParams view. Writing them is best effort: a failure (a
full disk, say) switches the mirror off and never stops training.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cifar_core.classes import CIFAR10_CLASSES

if TYPE_CHECKING:
    from cifar_core.train import TrainConfig, TrainResult

log = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
CELL_PX = 40  # each confusion-matrix cell: room for a 5-digit count
FONT_PX = 12
PAD_PX = 6  # the margin round the picture and between its labels
STEP_SCALARS = {"train_loss": "step/train_loss", "lr": "step/learning_rate", "images_per_s": "step/images_per_s"}
EPOCH_SCALARS = {
    "train_loss": "epoch/train_loss",
    "train_acc": "epoch/train_accuracy",
    "val_loss": "epoch/val_loss",
    "val_acc": "epoch/val_accuracy",
    "images_per_s": "epoch/images_per_s",
    "epoch_s": "epoch/seconds",
}
# the HParams view's metric columns: written once, at the run's end
FINAL_SCALARS = {
    "best_val_acc": "final/best_val_accuracy",
    "val_acc": "final/val_accuracy",
    "val_error": "final/val_error",
    "train_acc": "final/train_accuracy",
}
_WHITE, _BLUE = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])


def confusion_image(confusion: list[list[int]], classes: Sequence[str] = CIFAR10_CLASSES) -> np.ndarray:
    """The confusion matrix as an HWC uint8 picture that reads on its own in TensorBoard.

    True classes run down the left, predicted classes across the top (names written upright and
    turned a quarter), each cell shows its count and is shaded by its share of its row, white (0)
    to dark blue (1), so a class with few images still shows where its mistakes go. The grid sits
    ``PAD_PX`` from the bottom and right edges.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    n = len(counts)
    font = ImageFont.load_default(size=FONT_PX)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_px = int(max(probe.textlength(name, font=font) for name in classes)) + 1
    title_px = FONT_PX + 2
    left = PAD_PX + title_px + PAD_PX + label_px + PAD_PX
    top = PAD_PX + title_px + PAD_PX + label_px + PAD_PX
    grid = n * CELL_PX
    picture = Image.new("RGB", (left + grid + PAD_PX, top + grid + PAD_PX), "white")
    draw = ImageDraw.Draw(picture)
    draw.text((left + grid / 2, PAD_PX), "predicted", fill="black", font=font, anchor="mt")
    side_title = _turned("true", font)
    picture.paste("black", (PAD_PX, top + (grid - side_title.height) // 2), side_title)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    for i, name in enumerate(classes):
        draw.text((left - PAD_PX, top + i * CELL_PX + CELL_PX / 2), name, fill="black", font=font, anchor="rm")
        column = _turned(name, font)
        picture.paste("black", (left + i * CELL_PX + (CELL_PX - column.width) // 2, top - PAD_PX - column.height), column)
        for j in range(n):
            x, y = left + j * CELL_PX, top + i * CELL_PX
            colour = tuple(int(c) for c in (_WHITE + share[i, j] * (_BLUE - _WHITE)).round())
            draw.rectangle((x, y, x + CELL_PX - 1, y + CELL_PX - 1), fill=colour, outline=(200, 200, 200))
            ink = "white" if share[i, j] > 0.5 else "black"
            draw.text((x + CELL_PX / 2, y + CELL_PX / 2), str(counts[i, j]), fill=ink, font=font, anchor="mm")
    return np.asarray(picture)


def _turned(text: str, font: ImageFont.ImageFont) -> Image.Image:
    """``text`` as a mask turned a quarter anticlockwise (read bottom to top), for column labels."""
    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (right, bottom))
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
    return mask.rotate(90, expand=True)


def hparam_values(config: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """A run's config as the flat scalar values TensorBoard's HParams view compares.

    Nested options become dotted names (``model_options.width``, ``augment_params.rotation.degrees``)
    so each is its own sortable column, lists become comma-joined text, and unset (None) fields
    are left out, which the view shows as an empty cell.
    """
    values: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            values.update({f"{key}.{inner}": v for inner, v in hparam_values(value).items()})
        elif isinstance(value, (list, tuple)):
            values[key] = ",".join(str(item) for item in value)
        elif isinstance(value, (bool, int, float, str)):
            values[key] = value
    return values


def final_metrics(result: TrainResult) -> dict[str, float]:
    """The run's headline numbers, by ``FINAL_SCALARS`` key: best and last validation accuracy,
    last validation error and last training accuracy (each left out when the run has none)."""
    metrics: dict[str, float] = {}
    if result.best_val_acc is not None:
        metrics["best_val_acc"] = result.best_val_acc
    validated = [record for record in result.history if record.get("val_acc") is not None]
    if validated:
        metrics["val_acc"] = validated[-1]["val_acc"]
        metrics["val_error"] = validated[-1]["val_error"]
    if result.history:
        metrics["train_acc"] = result.history[-1]["train_acc"]
    return metrics


class TensorBoardMirror:
    """An event sink (like ``Run.append_event``) that writes TensorBoard summaries."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.run_id = Path(run_dir).name
        self.started = time.time()
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

    def finish(self, config: TrainConfig, result: TrainResult) -> None:
        """Write the run's hparams and final metrics for the HParams view, then close.

        They go into the run's own event folder, not into the timestamped sub-folder that
        ``SummaryWriter.add_hparams`` makes: that sub-folder would be a second TensorBoard run
        beside the curves, with copies of the metrics. Here the view lists one row per run, its
        metric columns read from the same run's scalars. No experiment summary is written: the view
        then builds its columns from every run's values together, so runs whose configs differ in
        fields (another model's options) still line up. The session name is the run id, so two runs
        of one config stay two rows. A cancelled run gets no end status: it may be resumed, and
        TensorBoard keeps the first status it reads, so only a finished run says success.
        """
        if self.writer is not None:
            try:
                self._write_hparams(config, result)
            except Exception as exc:  # the run's results are saved by now: a view's failure must not fail the run
                log.warning("TensorBoard hparams not written: %s: %s", type(exc).__name__, exc)
        self.close()

    def _write_hparams(self, config: TrainConfig, result: TrainResult) -> None:
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb  # its `api` re-export imports TensorFlow

        files = self.writer._get_file_writer()  # SummaryWriter has no public call for a prepared summary
        files.add_summary(hparams_pb(hparam_values(config.to_dict()), trial_id=self.run_id, start_time_secs=self.started))
        step = result.history[-1]["epoch"] if result.history else 0
        for key, value in final_metrics(result).items():
            self.writer.add_scalar(FINAL_SCALARS[key], value, step)
        if result.status == "finished":
            files.add_summary(_session_end(api_pb2.STATUS_SUCCESS))
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError:
                pass
            self.writer = None


def _session_end(status: int) -> Any:
    """The HParams plugin's session-end summary (its own writer for it needs TensorFlow)."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData(session_end_info=plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time()))
    summary = Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
    return summary
