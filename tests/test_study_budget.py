"""Budget awareness: the estimate comes from this device's measured speed, and a study predicted
to run over the user's budget is refused before anything is created."""

from __future__ import annotations

import re
import statistics

import pytest
from study_support import tiny_base

from cifar_core.cli import main
from cifar_core.errors import ConfigError
from cifar_core.runs import RunStore
from cifar_core.study import Estimate, Throughput, check_budget, estimate_study, list_studies
from cifar_core.study.definition import plan_study
from cifar_core.study.estimate import STARTUP_S, measured_throughput, probe_throughput

SPEED = Throughput(train_images_per_s=100.0, eval_images_per_s=400.0, source="test")


def test_estimate_is_images_times_epochs_over_measured_speed_for_every_variant_and_seed(tmp_path):
    study = plan_study(tiny_base(limit=1000, epochs=3, val_fraction=0.2), tmp_path, ablate=["rotation", "cutmix"], seeds=2)
    estimate = estimate_study(study, 50_000, SPEED)
    per_run = STARTUP_S + 3 * (800 / 100 + 200 / 400)
    assert estimate.runs == 8 and estimate.total_s == pytest.approx(8 * per_run)
    assert "for 8 run(s)" in estimate.describe() and "100 training images/s (test)" in estimate.describe()
    grid = plan_study(tiny_base(limit=None, epochs=1), tmp_path, grid="epochs=1,2", seeds=1)
    assert estimate_study(grid, 500, SPEED).total_s == pytest.approx(2 * STARTUP_S + 3 * (400 / 100 + 100 / 400))


def test_a_study_over_budget_is_refused_with_the_estimate_in_the_message():
    estimate = Estimate(runs=10, total_s=1800.0, throughput=SPEED)
    check_budget(estimate, 30.0)
    check_budget(estimate, None)
    with pytest.raises(ConfigError, match=r"The study would take about 30.0 min for 10 run\(s\).*over the 29 min budget"):
        check_budget(estimate, 29.0)


def test_speed_is_measured_from_finished_runs_of_the_same_model_and_batch_size(finished_study):
    store = RunStore(finished_study.study().runs_root)
    speed = measured_throughput(store, tiny_base())
    latest = store.list()[:5]
    rates = [event["images_per_s"] for run in latest for event in run.events("epoch")]
    assert speed.train_images_per_s == pytest.approx(statistics.median(rates))
    assert speed.source == "measured from 5 finished simple_cnn run(s)"
    assert measured_throughput(store, tiny_base(batch_size=128)) is None  # another batch size: not comparable


def test_without_finished_runs_a_few_steps_are_timed():
    speed = probe_throughput(tiny_base(batch_size=16), steps=2)
    assert speed.train_images_per_s > 0 and speed.eval_images_per_s > speed.train_images_per_s
    # a full batch when its step takes under a second here, else as many images as a second's step holds
    assert re.fullmatch(r"timed 2 training steps of (\d+ images of )?simple_cnn now", speed.source)


def test_cli_refuses_a_study_over_max_minutes_and_creates_nothing(finished_study, capsys):
    root = finished_study.study().runs_root
    runs_before = len(RunStore(root).list())
    code = main(
        [
            "study",
            "--ablate",
            "rotation,cutmix",
            "--data",
            "synthetic",
            "--epochs",
            "2",
            "--limit",
            "200",
            "--batch-size",
            "64",
            "--device",
            "cpu",
            "--seeds",
            "3",
            "--runs-root",
            str(root),
            "--max-minutes",
            "0.01",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: The study would take about ") and "12 run(s)" in err and "over the 0.01 min budget" in err
    assert "measured from 5 finished simple_cnn run(s)" in err
    assert len(RunStore(root).list()) == runs_before and len(list_studies(root)) == 1


def test_a_model_too_slow_for_a_full_batch_probe_is_timed_on_a_few_images():
    # MobileNetV3 at 224 px with batch 64 took over 90 s to time on a loaded 2-core CPU
    from torch import nn
    from torch.nn.modules.module import register_module_forward_pre_hook

    from cifar_core.train.presets import PRESETS

    config = PRESETS["study_mobilenet"].config(data="synthetic")
    batches = set()
    handle = register_module_forward_pre_hook(lambda module, args: batches.add(len(args[0])) if isinstance(module, nn.Conv2d) else None)
    try:
        speed = probe_throughput(config, steps=2)
    finally:
        handle.remove()
    assert max(batches) < 64  # a first step of 8 images said a batch of 64 at 224 px takes seconds
    timed = re.fullmatch(r"timed 2 training steps of (\d+) images of mobilenet_v3_large now", speed.source)
    assert timed and int(timed.group(1)) in batches and speed.train_images_per_s > 0


@pytest.mark.parametrize(
    ("fixed_s", "per_image_s", "expected_batch"),
    [
        (0.2, 0.0005, 512),  # fast_cnn on a busy machine: the full batch's step is under a second
        (0.3, 0.002, 350),  # a slower model: as many images as one second holds
        (0.0, 0.25, 8),  # MobileNetV3 at 224 px: a quarter second an image, so the smallest batch
    ],
)
def test_the_probe_batch_is_predicted_from_a_steps_fixed_and_per_image_cost(monkeypatch, fixed_s, per_image_s, expected_batch):
    """Judged by an 8-image step alone, a fast model whose steps are mostly fixed cost looked slow on a busy machine
    (timed on a dozen images, the classroom budget read "buys about 0 epochs"); two small sizes separate the costs."""
    sizes = []

    def images_per_s(config, images, labels, *, steps):
        assert len(images) == config.batch_size
        sizes.append(config.batch_size)
        return config.batch_size / (fixed_s + per_image_s * config.batch_size)

    monkeypatch.setattr("cifar_core.study.estimate.measure_images_per_s", images_per_s)
    speed = probe_throughput(tiny_base(model="fast_cnn", batch_size=512), steps=3)
    assert sizes == ([8] if expected_batch == 8 else [8, 16, expected_batch])  # a model that slow is not timed on more
    assert speed.train_images_per_s == pytest.approx(expected_batch / (fixed_s + per_image_s * expected_batch))
    assert ("of fast_cnn now" if expected_batch == 512 else f"of {expected_batch} images of fast_cnn now") in speed.source
