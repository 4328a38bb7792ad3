"""Every run also writes TensorBoard event files that TensorBoard itself reads back: curves, a
labelled confusion matrix, and the config with final metrics for the HParams view."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_support import RUN_ID
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.runs import RunStore
from cifar_core.runs.tensorboard import CELL_PX, PAD_PX, TENSORBOARD_DIR, TensorBoardMirror, confusion_image, hparam_values
from cifar_core.train import TrainResult


def _accumulate(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    events.Reload()
    return events


def test_trained_run_has_tensorboard_scalars_and_confusion(trained_root: Path) -> None:
    run = RunStore(trained_root).get(RUN_ID)
    events = _accumulate(run.dir / TENSORBOARD_DIR)
    tags = events.Tags()
    assert {"epoch/val_accuracy", "epoch/train_loss", "step/train_loss", "step/learning_rate", "step/images_per_s"} <= set(tags["scalars"])
    epoch_records = run.events("epoch")
    val = events.Scalars("epoch/val_accuracy")
    assert [point.step for point in val] == [record["epoch"] for record in epoch_records]
    assert np.allclose([point.value for point in val], [record["val_acc"] for record in epoch_records])
    steps = run.events("step")
    assert [point.step for point in events.Scalars("step/train_loss")] == [s["global_step"] for s in steps]
    (image,) = events.Images("epoch/val_confusion")
    decoded = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)).convert("RGB"))
    assert (image.height, image.width) == decoded.shape[:2] and image.height > 10 * CELL_PX and image.width > 10 * CELL_PX
    assert np.array_equal(decoded, confusion_image(epoch_records[-1]["confusion"]))  # PNG is lossless: the labelled picture itself


def test_trained_run_has_hparams_and_final_metrics(trained_root: Path) -> None:
    run = RunStore(trained_root).get(RUN_ID)
    config, epoch_records = run.config(), run.events("epoch")
    events = _accumulate(run.dir / TENSORBOARD_DIR)
    content = events.PluginTagToContent("hparams")
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    assert start.group_name == RUN_ID
    # every set field of the config, none of the unset (None) ones or the empty option dicts
    fields = config.to_dict()
    assert set(start.hparams) == {name for name, value in fields.items() if value is not None and value != {}}
    assert "budget_minutes" not in start.hparams and config.budget_minutes is None
    assert start.hparams["model"].string_value == config.model == "simple_cnn"
    assert start.hparams["lr"].number_value == config.lr and start.hparams["batch_size"].number_value == 64
    assert start.hparams["limit"].number_value == 200 and start.hparams["shuffle"].bool_value is True
    assert start.hparams["augment_ops"].string_value == ",".join(config.augment_ops)
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_SUCCESS

    last = epoch_records[-1]
    expected = {
        "final/best_val_accuracy": max(record["val_acc"] for record in epoch_records),
        "final/val_accuracy": last["val_acc"],
        "final/val_error": 1 - last["val_acc"],
        "final/train_accuracy": last["train_acc"],
    }
    for tag, value in expected.items():
        (point,) = events.Scalars(tag)
        assert point.step == last["epoch"] and point.value == pytest.approx(value, abs=1e-6), tag


def test_hparams_view_lists_one_row_per_run(trained_root: Path, tmp_path: Path) -> None:
    """TensorBoard's own HParams backend, over a folder of two runs of one config, answers two rows."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context, list_session_groups

    trained = RunStore(trained_root).get(RUN_ID)
    shutil.copytree(trained.dir / TENSORBOARD_DIR, tmp_path / RUN_ID / TENSORBOARD_DIR)
    # a second run of the same config: the trained run's own events, mirrored under another run id
    twin = TensorBoardMirror(tmp_path / "twin")
    history = trained.events("epoch")
    for event in trained.events():
        twin(event)
    twin.finish(trained.config(), TrainResult("finished", len(history), history[-1]["val_acc"], history))

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    tb_context = base_plugin.TBContext(logdir=str(tmp_path), data_provider=provider)
    every_status = [api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING]  # as the view asks
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=10, allowed_statuses=every_status)
    groups = list_session_groups.Handler(context.RequestContext(), backend_context.Context(tb_context), "", request).run().session_groups
    assert sorted(group.name for group in groups) == sorted([RUN_ID, "twin"])
    for group in groups:
        assert group.hparams["lr"].number_value == trained.config().lr
        (session,) = group.sessions
        assert session.status == api_pb2.STATUS_SUCCESS
        metrics = {value.name.tag: value.value for value in session.metric_values}
        assert metrics["final/val_accuracy"] == pytest.approx(history[-1]["val_acc"], abs=1e-6)


def test_confusion_image_names_classes_writes_counts_and_shades_by_row_share() -> None:
    counts = np.zeros((10, 10), dtype=int)
    np.fill_diagonal(counts, 7)
    counts[0, 1] = 3  # airplane: 7 right, 3 taken for automobiles
    picture = confusion_image(counts.tolist())
    height, width, _ = picture.shape
    assert picture.dtype == np.uint8 and height > 10 * CELL_PX and width > 10 * CELL_PX  # room for the names
    top, left = height - PAD_PX - 10 * CELL_PX, width - PAD_PX - 10 * CELL_PX

    def cell(row: int, column: int) -> np.ndarray:
        return picture[top + row * CELL_PX : top + (row + 1) * CELL_PX, left + column * CELL_PX : left + (column + 1) * CELL_PX]

    assert cell(0, 0)[3, 3].tolist() == [82, 110, 151]  # 7/10 of the way from white to dark blue
    assert cell(0, 1)[3, 3].tolist() == [181, 193, 211]  # 3/10
    assert cell(5, 0)[3, 3].tolist() == [255, 255, 255]  # no dogs taken for airplanes
    # a count on each cell: white ink on dark, dark ink on light
    inside = np.s_[2:-2, 2:-2]  # within the cell's grey outline
    assert cell(0, 0)[inside].min(axis=2).max() > 230 and cell(0, 1)[inside].min() < 100 and cell(5, 0)[inside].min() < 100

    dark = picture.min(axis=2) < 128
    row_labels = dark[top : top + 10 * CELL_PX, :left]
    column_labels = dark[:top, left : left + 10 * CELL_PX]
    first_ink = {name: row_labels[i * CELL_PX : (i + 1) * CELL_PX].any(axis=0).argmax() for i, name in enumerate(CIFAR10_CLASSES)}
    top_ink = {name: column_labels[:, i * CELL_PX : (i + 1) * CELL_PX].any(axis=1).argmax() for i, name in enumerate(CIFAR10_CLASSES)}
    # names are right-aligned against the grid: the longest name starts furthest out
    assert first_ink["automobile"] < first_ink["airplane"] < first_ink["cat"] < left - PAD_PX
    assert top_ink["automobile"] < top_ink["airplane"] < top_ink["cat"] < top - PAD_PX


def test_cancelled_run_gets_its_row_without_an_end_status(trained_root: Path, tmp_path: Path) -> None:
    """A cancelled run may be resumed, so it names no status; one cancelled before any epoch has no metrics yet."""
    config = RunStore(trained_root).get(RUN_ID).config()
    mirror = TensorBoardMirror(tmp_path / "stopped")
    mirror.finish(config, TrainResult("cancelled", 0, None, []))
    events = _accumulate(tmp_path / "stopped" / TENSORBOARD_DIR)
    content = events.PluginTagToContent("hparams")
    assert set(content) == {metadata.SESSION_START_INFO_TAG}
    assert metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG]).group_name == "stopped"
    assert events.Tags()["scalars"] == []


def test_hparam_values_flatten_nested_options_and_lists() -> None:
    config = {"model_options": {"width": 2, "head": {"depth": 3}}, "augment_ops": ["rotation", "cutmix"], "limit": None, "shuffle": False}
    flat = {"model_options.width": 2, "model_options.head.depth": 3, "augment_ops": "rotation,cutmix", "shuffle": False}
    assert hparam_values(config) == flat  # an unset field is left out: an empty cell in the view
