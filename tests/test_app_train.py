"""Train page: validated settings, one launch per click, a live view that survives refreshes, cancel."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error

import psutil
import pytest
from app_support import assert_ok, button, charts, errors, metrics, open_app, page_text, tiny_config

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.runs import RunStore


def header(at) -> str:
    return next((element.value for element in at.markdown if element.value.startswith("### Run")), "")


@pytest.fixture
def sleeper(app_env):
    """A live process standing in for the worker of run ``busy-run``: cancel sends SIGTERM only to a
    process whose command line is that run's worker's, so it carries one."""
    worker_args = ["-m", "cifar_core", "runs", "worker", str(app_env / "runs" / "busy-run")]
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *worker_args])
    yield process
    process.kill()
    process.wait()


def fake_active_run(store: RunStore, process: subprocess.Popen, state: str = "running", run_id: str = "busy-run"):
    run = store.create(tiny_config(), run_id)
    run.update_status(state=state, pid=process.pid, pid_create_time=psutil.Process(process.pid).create_time(), launched=time.time())
    return run


def test_the_form_starts_at_the_studys_values_and_nothing_is_shown_yet(app_env):
    at = open_app("train")
    assert at.slider(key="train_dropout").value == 0.2
    assert at.slider(key="train_aug_p").value == 0.06 and at.slider(key="train_mix_p").value == 0.03
    assert at.number_input(key="train_batch_size").value == 256 and at.number_input(key="train_epochs").value == 10
    assert "No run to show yet" in page_text(at)
    assert not button(at, "Start training").disabled


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("train_lr", 50.0, "lr must be between"), ("train_epochs", 0, "epochs must be between"), ("train_batch_size", 1, "batch_size must be between")],
)
def test_out_of_range_values_are_an_error_message_and_disable_the_launch(app_env, key, value, message):
    at = open_app("train")
    at.number_input(key=key).set_value(value).run()
    assert_ok(at)
    assert any(message in error for error in errors(at))
    assert button(at, "Start training").disabled


def start_a_one_epoch_200_image_run(at) -> None:
    """Fill in a tiny run (1 epoch, 200 images) on top of what the form holds, and launch it."""
    at.number_input(key="train_epochs").set_value(1)
    at.checkbox(key="train_use_limit").check().run()
    at.number_input(key="train_limit").set_value(200).run()
    button(at, "Start training").click().run()
    assert_ok(at)


def test_one_click_launches_one_background_run_that_is_watched_live_and_survives_a_refresh(app_env):
    at = open_app("train")
    at.number_input(key="train_batch_size").set_value(64)
    start_a_one_epoch_200_image_run(at)
    store = RunStore()
    runs = store.list()
    assert len(runs) == 1
    run_id = runs[0].id
    assert at.query_params["run"] == run_id
    assert header(at).startswith(f"### Run `{run_id}`")
    button(at, "Start training").click().run()  # the same click delivered twice
    assert len(store.list()) == 1

    deadline = time.monotonic() + 240
    while "finished" not in header(at) and time.monotonic() < deadline:
        assert not any(word in header(at) for word in ("failed", "interrupted")), (header(at), errors(at))
        time.sleep(2)
        at.run()
    assert "finished" in header(at), runs[0].log_path.read_text()
    curves, confusion = charts(at)
    assert {"train loss", "validation loss", "train accuracy", "validation accuracy"} <= {trace["name"] for trace in curves["data"]}
    assert confusion["data"][0]["x"] == list(CIFAR10_CLASSES)
    assert metrics(at)["Epochs done"] == "1/1"

    refreshed = open_app("train", query_params={"run": run_id})
    assert header(refreshed).startswith(f"### Run `{run_id}` · finished")
    assert len(store.list()) == 1


def test_without_the_url_the_newest_active_run_is_found_on_disk(app_env, sleeper):
    run = fake_active_run(RunStore(), sleeper)
    at = open_app("train")
    assert header(at) == f"### Run `{run.id}` · running"
    assert at.query_params["run"] == run.id
    assert "Starting" in at.get("progress")[0].proto.text


def test_a_queued_run_says_what_it_waits_for(app_env, sleeper):
    store = RunStore()
    fake_active_run(store, sleeper, "running", "first")
    second = fake_active_run(store, sleeper, "queued", "second")
    at = open_app("train", query_params={"run": second.id})
    assert "Queued: waiting for `first` to finish" in page_text(at)


def test_cancel_stops_the_worker_and_the_page_says_cancelled(app_env, sleeper):
    run = fake_active_run(RunStore(), sleeper)
    at = open_app("train", query_params={"run": run.id})
    button(at, "Cancel run").click().run()
    assert sleeper.wait(timeout=10) is not None  # SIGTERM delivered
    assert run.cancel_path.exists()
    run.update_status(state="cancelled")  # what the worker writes when it stops
    at.run()
    assert "cancelled" in header(at) and "can resume it" in page_text(at)


def test_an_unknown_run_in_the_url_is_ignored(app_env):
    at = open_app("train", query_params={"run": "../../etc"})
    assert_ok(at)
    assert "No run to show yet" in page_text(at)


def test_mobilenet_without_cached_weights_explains_the_choices(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    at = open_app("train")
    at.selectbox(key="train_model").set_value("mobilenet_v3_large").run()
    assert any("not in the local cache" in warning.value for warning in at.warning)
    button(at, "Start training").click().run()
    assert any("not available offline" in error and "pretrained=False" in error for error in errors(at))
    assert RunStore().list() == []

    at.radio(key="train_weights").set_value("ImageNet weights from a file").run()
    at.text_input(key="train_weights_path").input("/etc/passwd").run()
    assert any("outside the folders this app may read from" in error for error in errors(at))
    at.radio(key="train_weights").set_value("No pretrained weights (random init)").run()
    assert not errors(at) and not button(at, "Start training").disabled


def test_the_fast_preset_fills_the_form_and_carries_its_hidden_fields_and_budget(app_env):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("fast").run()
    assert_ok(at)
    assert at.selectbox(key="train_model").value == "fast_cnn"
    assert at.number_input(key="train_batch_size").value == 512 and at.slider(key="train_dropout").value == 0.0
    assert "whitened first layer" in page_text(at)
    at.checkbox(key="train_use_budget").check().run()
    at.number_input(key="train_budget").set_value(2.0)
    start_a_one_epoch_200_image_run(at)
    run = RunStore().list()[0]
    config = run.config()
    assert (config.model, config.optimizer, config.schedule, config.label_smoothing) == ("fast_cnn", "sgd", "onecycle", 0.2)
    assert config.model_options == {"widths": [32, 64, 128]} and config.budget_minutes == 2.0
    assert config.augment_ops == ["hflip", "translate"]
