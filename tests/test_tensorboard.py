"""Every run also writes TensorBoard event files that TensorBoard itself reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app_support import RUN_ID
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cifar_core.runs import RunStore
from cifar_core.runs.tensorboard import CELL_PX, TENSORBOARD_DIR, confusion_image


def test_trained_run_has_tensorboard_scalars_and_confusion(trained_root: Path) -> None:
    run = RunStore(trained_root).get(RUN_ID)
    events = EventAccumulator(str(run.dir / TENSORBOARD_DIR), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"epoch/val_accuracy", "epoch/train_loss", "step/train_loss", "step/learning_rate", "step/images_per_s"} <= set(tags["scalars"])
    epoch_records = run.events("epoch")
    val = events.Scalars("epoch/val_accuracy")
    assert [point.step for point in val] == [record["epoch"] for record in epoch_records]
    assert np.allclose([point.value for point in val], [record["val_acc"] for record in epoch_records])
    steps = run.events("step")
    assert [point.step for point in events.Scalars("step/train_loss")] == [s["global_step"] for s in steps]
    (image,) = events.Images("epoch/val_confusion")
    assert (image.height, image.width) == (10 * CELL_PX, 10 * CELL_PX)


def test_confusion_image_shades_by_row_share() -> None:
    picture = confusion_image([[3, 1], [0, 0]])
    assert picture.shape == (2 * CELL_PX, 2 * CELL_PX, 3) and picture.dtype == np.uint8
    assert picture[0, 0].tolist() == [70, 100, 144]  # 3/4 of the way to dark blue
    assert picture[-1, -1].tolist() == [255, 255, 255]  # an empty row stays white
