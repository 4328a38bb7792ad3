"""Train page: validated settings, one launch per click, a live view that survives refreshes, cancel."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error

import psutil
import pytest
from app_support import assert_ok, button, charts, errors, metrics, navigate, open_app, page_text, record_deltas, shown_value
from data_fixtures import make_images, write_image_folder
from support import standing_in, tiny_config, wait_for

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.runs import RunStore
from cifar_core.runs.progress import plan_changes
from cifar_core.study import Throughput
from cifar_core.train.presets import PRESETS


def header(at) -> str:
    return next((element.value for element in at.markdown if element.value.startswith("### Run")), "")


@pytest.fixture
def sleeper(app_env):
    """A live process standing in for the worker of run ``busy-run``: a run reads active, and cancel
    sends SIGTERM, only for a process proved to be the run's own, so it carries that worker's command line."""
    worker_args = ["-m", "cifar_core", "runs", "worker", str(app_env / "runs" / "busy-run")]
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *worker_args])
    yield process
    process.kill()
    process.wait()


def fake_active_run(store: RunStore, process: subprocess.Popen, state: str = "running", run_id: str = "busy-run"):
    run = store.create(tiny_config(), run_id)
    run.update_status(state=state, pid=process.pid, pid_create_time=psutil.Process(process.pid).create_time(), launched=time.time())
    return run


def test_a_new_user_starts_on_the_classroom_recipe_with_its_budget_and_a_time_estimate(app_env):
    at = open_app("train")
    recipe = at.selectbox(key="train_preset")
    assert recipe.options[0] == "classroom" and recipe.value == "classroom"
    assert at.selectbox(key="train_model").value == "fast_cnn"
    assert at.checkbox(key="train_use_budget").value and at.number_input(key="train_budget").value == 1.25
    assert at.checkbox(key="train_use_limit").value and at.number_input(key="train_limit").value == 10_000
    text = page_text(at)
    assert "**Estimated time:** about " in text and " on this CPU" in text
    assert "**Augmentations** (from the classroom recipe): Horizontal flip, on 50% of images; Translation by up to 6% (2 px)" in text
    assert "{" not in text  # no raw dicts
    assert "No run to show yet" in page_text(at) and not errors(at)


@pytest.fixture
def fixed_speed(monkeypatch):
    """A fixed training speed for tests that are not about the estimate (timing fast_wide takes long on a busy CPU)."""
    monkeypatch.setattr("cifar_core.ui.estimates.device_throughput", lambda store, config: Throughput(1000.0, 3000.0, "fixed"))


@pytest.mark.parametrize("name", [name for name, preset in PRESETS.items() if preset.budget_minutes])
def test_a_recipe_that_says_to_set_a_budget_ticks_the_budget_box(app_env, fixed_speed, name):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("custom").run()
    assert not at.checkbox(key="train_use_budget").value
    at.selectbox(key="train_preset").set_value(name).run()
    assert at.checkbox(key="train_use_budget").value and at.number_input(key="train_budget").value == PRESETS[name].budget_minutes


def edit_budget_mix_and_epochs(at) -> None:
    at.number_input(key="train_budget").set_value(3.0).run()
    at.slider(key="train_mix_p").set_value(0.4).run()
    at.number_input(key="train_epochs").set_value(7).run()


RECIPE_KEYS = ("train_use_budget", "train_budget", "train_mix_p", "train_epochs", "train_use_limit", "train_limit", "train_lr")


def test_choosing_a_recipe_again_restores_every_field_it_sets_budget_included(app_env, fixed_speed):
    """Re-choosing classroom after edits left its budget at 3.00 and its mix_p as edited: the box
    already showed classroom, so choosing it again changed nothing. An edited form now offers the
    recipe again (Restore); choosing it after another recipe restores it too."""
    at = open_app("train")
    recipe = {key: at.session_state[key] for key in RECIPE_KEYS}
    assert (recipe["train_budget"], recipe["train_mix_p"]) == (1.25, 0.0)
    assert not [element for element in at.button if element.label.startswith("Restore")]  # nothing edited yet
    edit_budget_mix_and_epochs(at)
    at.number_input(key="train_seed").set_value(4).run()
    button(at, "Restore the classroom recipe").click().run()
    assert {key: at.session_state[key] for key in RECIPE_KEYS} == recipe and at.number_input(key="train_budget").value == 1.25
    assert at.slider(key="train_mix_p").value == 0.0 and at.session_state["train_seed"] == 4  # the seed is the user's, not the recipe's
    assert not [element for element in at.button if element.label.startswith("Restore")]
    edit_budget_mix_and_epochs(at)
    at.selectbox(key="train_preset").set_value("fast").run()
    at.selectbox(key="train_preset").set_value("classroom").run()
    assert {key: at.session_state[key] for key in RECIPE_KEYS} == recipe and not errors(at)
    assert at.number_input(key="train_budget").value == 1.25 and at.slider(key="train_mix_p").value == 0.0


def test_the_custom_recipe_starts_at_the_studys_values(app_env):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("custom").run()
    assert at.slider(key="train_dropout").value == 0.2
    assert at.slider(key="train_aug_p").value == 0.06 and at.slider(key="train_mix_p").value == 0.03
    assert at.number_input(key="train_batch_size").value == 256 and at.number_input(key="train_epochs").value == 10
    assert "No run to show yet" in page_text(at)
    assert not button(at, "Start training").disabled


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train_lr", 50.0, "lr must be between"),
        ("train_epochs", 0, "epochs must be between"),
        ("train_batch_size", 1, "batch_size must be between"),
    ],
)
def test_out_of_range_values_are_an_error_message_and_disable_the_launch(app_env, key, value, message):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("custom").run()
    at.number_input(key=key).set_value(value).run()
    assert_ok(at)
    assert any(message in error for error in errors(at))
    assert button(at, "Start training").disabled
    # the study's augmentations are still what the run would use: a bad value must not make them read "none"
    assert "**Augmentations** (the study's): listed here once the values above are valid." in page_text(at)


def start_a_one_epoch_200_image_run(at) -> None:
    """Fill in a tiny run (1 epoch, 200 images) on top of what the form holds, and launch it."""
    at.number_input(key="train_epochs").set_value(1)
    at.checkbox(key="train_use_limit").check().run()
    at.number_input(key="train_limit").set_value(200).run()
    button(at, "Start training").click().run()
    assert_ok(at)


def test_one_click_launches_one_background_run_that_is_watched_live_and_survives_a_refresh(app_env):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("custom").run()
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

    def finished() -> bool:
        at.run()
        assert not any(word in header(at) for word in ("failed", "interrupted")), (header(at), errors(at), runs[0].log_path.read_text())
        return "finished" in header(at)

    wait_for(finished, timeout=240, interval=2, what="the run finishing")
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


def test_a_queued_run_says_what_it_waits_for(app_env):
    store = RunStore()
    first, second = store.create(tiny_config(), "first"), store.create(tiny_config(), "second")
    with standing_in(first, second) as me:  # this process stands in for both workers
        first.update_status(state="running", launched=time.time(), **me)
        second.update_status(state="queued", launched=time.time(), **me)
        at = open_app("train", query_params={"run": second.id})
        assert "Queued: number 2 in line, behind `first` (training)" in page_text(at)


def test_cancel_stops_the_worker_and_the_page_says_cancelled(app_env, sleeper, monkeypatch):
    run = fake_active_run(RunStore(), sleeper)
    monkeypatch.setenv("CIFAR_EXPLORER_TEACHER_KEY", "k3y")  # a served app: the run is not this browser's, the teacher's key is
    at = open_app("train", query_params={"run": run.id, "teacher": "k3y"})
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
    at.selectbox(key="train_preset").set_value("custom").run()
    # the page times a few training steps of the chosen model for its estimate: at 64 px, not 224,
    # so this test of the weights' story does not spend minutes timing MobileNet on 2 cores
    at.session_state["train_resolution"] = 64
    at.selectbox(key="train_model").set_value("mobilenet_v3_large").run()
    assert at.select_slider(key="train_resolution").value == 64
    assert any("not in this computer's model cache" in warning.value for warning in at.warning)
    button(at, "Start training").click().run()
    assert any("not available offline" in error and "No pretrained weights" in error for error in errors(at))
    assert not any("pretrained=False" in error for error in errors(at))  # the app's words, not the CLI's
    assert RunStore().list() == []

    at.radio(key="train_weights").set_value("ImageNet weights from a file").run()
    at.text_input(key="train_weights_path").input("/etc/passwd").run()
    assert any("outside the folders this app may read from" in error for error in errors(at))
    at.radio(key="train_weights").set_value("No pretrained weights (random init)").run()
    assert not errors(at) and not button(at, "Start training").disabled


def test_the_form_labels_are_short_and_their_help_says_the_rest(app_env):
    # a label longer than about 25 characters is cut off in the form's column at 1366 px
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("custom").run()
    at.session_state["train_resolution"] = 64  # the estimate times MobileNet at 64 px, not 224
    at.selectbox(key="train_model").set_value("mobilenet_v3_large").run()
    assert "too high and the loss jumps" in at.number_input(key="train_lr").help
    shuffle, freeze = at.checkbox(key="train_shuffle"), at.checkbox(key="train_freeze")
    assert "new random order" in shuffle.help and "frozen" in freeze.help
    assert all(len(widget.label) <= 25 for widget in (at.number_input(key="train_lr"), shuffle, freeze))
    model = at.selectbox(key="train_model")
    assert all(title in model.help for title in ("Simple CNN", "MobileNetV3-Large", "Fast CNN"))
    at.selectbox(key="train_model").set_value("fast_cnn").run()
    assert any(caption.value.startswith("A small fast network") for caption in at.caption)


def test_the_fast_preset_fills_the_form_and_carries_its_hidden_fields_and_budget(app_env):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("fast").run()
    assert_ok(at)
    assert at.selectbox(key="train_model").value == "fast_cnn"
    assert at.number_input(key="train_batch_size").value == 1024 and at.slider(key="train_dropout").value == 0.0
    assert "whitened first layer" in page_text(at)
    assert at.checkbox(key="train_use_budget").value
    at.number_input(key="train_budget").set_value(2.0)
    start_a_one_epoch_200_image_run(at)
    run = RunStore().list()[0]
    config = run.config()
    assert (config.model, config.optimizer, config.schedule, config.label_smoothing) == ("fast_cnn", "sgd", "triangle", 0.2)
    assert config.model_options == {"widths": [48, 96, 192], "dirac_init": True, "train_bn_scale": False} and config.budget_minutes == 2.0
    assert (config.muon_lr, config.lookahead, config.augment_params["hflip"]) == (0.24, True, {"alternate": True})
    assert config.augment_ops == ["hflip", "translate"]


def edit_the_form(at) -> None:
    """The issue's edit: part of the images (5,000), 1 epoch, seed 7."""
    at.checkbox(key="train_use_limit").uncheck().run()
    at.checkbox(key="train_use_limit").check().run()
    at.number_input(key="train_limit").set_value(5000).run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.number_input(key="train_seed").set_value(7).run()


FORM_KEYS = ("train_preset", "train_model", "train_lr", "train_batch_size", "train_epochs", "train_seed", "train_limit", "train_budget")


def test_an_edited_form_survives_experiments_and_runs_and_the_browser_is_told_its_values(app_env):
    """Every edited number of the form (the image limit included) comes back after a visit to Experiments and Runs."""
    at = open_app("train")
    edit_the_form(at)
    before = {key: at.session_state[key] for key in FORM_KEYS}
    navigate(at, "experiments")
    base = next(caption.value for caption in at.caption if caption.value.startswith("Base run"))
    assert "5000 images" in base and "1 epoch(s)" in base and "seed 7" in base
    for page in ("train", "runs", "train"):
        navigate(at, page)
    assert {key: at.session_state[key] for key in FORM_KEYS} == before
    for key in ("train_lr", "train_batch_size", "train_epochs", "train_seed", "train_limit", "train_budget"):
        assert shown_value(at.number_input(key=key)) == before[key], key  # not the widget's blank default (0)
    assert shown_value(at.checkbox(key="train_use_limit")) is True and shown_value(at.checkbox(key="train_use_budget")) is True
    at.run()  # the browser's next rerun sends back what it shows
    assert {key: at.session_state[key] for key in FORM_KEYS} == before and not errors(at)


def test_a_browser_reload_restores_the_last_form(app_env):
    at = open_app("train")
    at.selectbox(key="train_preset").set_value("fast").run()
    edit_the_form(at)
    before = {key: at.session_state[key] for key in FORM_KEYS}
    token = at.query_params["b"]
    token = token[0] if isinstance(token, list) else token
    reloaded = open_app("train", query_params={"b": token})  # a new session of the same browser (its ?b= token)
    assert {key: reloaded.session_state[key] for key in FORM_KEYS} == before
    assert shown_value(reloaded.number_input(key="train_limit")) == 5000
    stranger = open_app("train")  # another browser: the recipe's defaults, not this browser's edits
    assert stranger.session_state["train_preset"] == "classroom" and stranger.session_state["train_seed"] == 0


def test_a_source_with_only_a_test_split_is_refused_before_any_run_is_created(app_env, monkeypatch):
    source = write_image_folder(app_env / "data" / "test-only", {"test": make_images(3, seed=1)})
    monkeypatch.setenv("CIFAR_EXPLORER_DATA", str(source))
    at = open_app("train")
    assert any(error.startswith("Could not load the data: This source has no labelled training images") for error in errors(at))
    assert button(at, "Start training").disabled
    assert RunStore().list() == []


def test_a_finished_run_is_shown_with_an_evaluate_link_and_a_run_at_chance_says_so(trained_run):
    at = open_app("train")
    assert at.query_params["run"] == trained_run.id  # the latest finished run, without a URL
    events = trained_run.events("epoch")
    at_chance = abs(events[-1]["val_acc"] - 0.1) <= 0.02
    assert any("chance level" in warning.value for warning in at.warning) == at_chance
    gap = events[-1]["train_acc"] - events[-1]["val_acc"]
    assert metrics(at)["Gap (train − val)"] == f"{gap:+.1%}"
    gap_help = next(metric.help for metric in at.metric if metric.label == "Gap (train − val)")
    assert "negative gap" in gap_help and "dropout" in gap_help
    button(at, "Evaluate this run").click().run()
    assert_ok(at)
    assert at.title[0].value == "Evaluate"
    assert at.sidebar.selectbox(key="sidebar_run").value == trained_run.id


def test_a_busy_machine_is_told_before_start_that_the_classroom_budget_buys_too_few_epochs(app_env, monkeypatch):
    # the one place the page measures speed, slowed to a machine under load (100 images/s)
    monkeypatch.setattr("cifar_core.ui.estimates.device_throughput", lambda store, config: Throughput(100.0, 300.0, "busy"))
    text = page_text(open_app("train"))
    bought = re.search(r"\*\*The budget buys about (\d+) epochs?\*\* at this machine's speed now", text)
    assert bought and int(bought.group(1)) < 10
    assert f"the budget buys only {bought.group(1)} epoch" in text
    assert "the classroom recipe needs about 10 to learn: raise the budget, train on fewer images, or close other programs." in text


class SlowingClock:
    """The one clock a budget measures speed with: ``fast_readings`` readings of ``fast_s`` each (the
    first steps), then ``slow_s`` each (other programs took the processor). One reading per step."""

    def __init__(self, fast_s: float, slow_s: float, fast_readings: int, start: float = 1000.0):
        self.fast_s, self.slow_s, self.left_fast, self.now, self.start = fast_s, slow_s, fast_readings, start, start

    def __call__(self) -> float:
        self.now += self.fast_s if self.left_fast > 0 else self.slow_s
        self.left_fast -= 1
        return self.now


def test_a_refit_under_load_is_explained_and_below_the_recipes_minimum_says_so_during_the_run(app_env):
    from cifar_core.data import load_cifar
    from cifar_core.train import train

    store = RunStore()
    config = PRESETS["classroom"].config(data="synthetic", limit=None)  # the recipe's training, on the 800 synthetic images
    run = store.create(config, "classroom-under-load")
    clock = SlowingClock(fast_s=0.05, slow_s=3.0, fast_readings=3)
    result = train(config, load_cifar("synthetic"), on_event=run.append_event, clock=clock, clock_start=clock.start)
    plans = run.events("budget")
    assert result.status == "finished" and plans[0]["epochs"] >= 10 > plans[-1]["epochs"]  # the first fit had room, the refit not
    with standing_in(run) as me:  # shown as the run it was while training
        run.update_status(state="running", launched=time.time(), **me)
        at = open_app("train", {"run": run.id})
    text = page_text(at)
    before, after = plan_changes(run.events())[-1]
    assert re.search(rf"\*\*Replanned\*\* after \d+ epochs?: {after['epochs']} epochs instead of {before['epochs']}\.", text)
    slower = after["seconds_per_epoch_estimate"] > before["seconds_per_epoch_estimate"]
    assert ("other programs are using the processor" in text) == slower
    assert metrics(at)["Epochs done"].endswith(f"/{plans[-1]['epochs']}")
    assert f"At this machine's speed now the budget buys only {plans[-1]['epochs']} epoch" in text
    assert "the classroom recipe needs about 10 to learn: raise the budget, train on fewer images, or close other programs." in text


def test_a_speed_timing_that_takes_seconds_shows_a_bar_with_the_seconds_so_far(app_env, monkeypatch):
    def slow_probe(store, config):  # the one place speed is measured, as slow as a model timed under load
        time.sleep(2.5)
        return Throughput(1000.0, 3000.0, "slow")

    monkeypatch.setattr("cifar_core.ui.estimates.device_throughput", slow_probe)
    sent = record_deltas(monkeypatch)
    at = open_app("train")
    bars = [msg.delta.new_element.progress.text for msg in sent if msg.delta.new_element.WhichOneof("type") == "progress"]
    assert any(re.fullmatch(r"Measuring this machine's training speed for fast_cnn: \d s…", text) for text in bars), bars
    assert "**Estimated time:** about " in page_text(at) and not at.get("progress")
