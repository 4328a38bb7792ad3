"""How long a study will take on this machine, before it starts.

The speed comes from what this device actually did: the epoch events of finished runs of the
same model and batch size (training images/s and validation images/s), or, when there are none,
a few timed training steps of the base model. Time per run is then
``startup + epochs × (train images / train speed + val images / val speed)``, summed over every
variant and seed. It is an estimate: other work on the machine changes the speed.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from cifar_core.device import resolve_device
from cifar_core.errors import CifarError, ConfigError
from cifar_core.runs import RunStore
from cifar_core.study.definition import Study
from cifar_core.train import TrainConfig
from cifar_core.train.step import measure_images_per_s

# Per run: worker start, torch import and a cached dataset load; measured about 12-18 s on the
# 2-core development machine while other work ran.
STARTUP_S = 15.0
# A validation batch is forward-only: about a third of a training step (the engine's own rule).
EVAL_SPEEDUP = 3.0
RECENT_RUNS = 5
PROBE_STEPS = 3
# The timed steps take at most about this long each: a step of PROBE_SMALL_BATCH images is timed
# first, and when a full batch would take longer (MobileNetV3 at 224 px: tens of seconds a step on
# a loaded 2-core CPU) the steps are timed on as many images as fit this time, so the probe takes
# seconds. Per image a smaller batch is a little slower, so that estimate errs long.
PROBE_STEP_S = 1.0
PROBE_SMALL_BATCH = 8


@dataclass(frozen=True)
class Throughput:
    """Images per second this device trains and validates at, and where the numbers came from."""

    train_images_per_s: float
    eval_images_per_s: float
    source: str


@dataclass(frozen=True)
class Estimate:
    """The study's predicted wall time."""

    runs: int
    total_s: float
    throughput: Throughput

    @property
    def minutes(self) -> float:
        return self.total_s / 60

    def describe(self) -> str:
        return (
            f"about {self.minutes:.1f} min for {self.runs} run(s), ~{self.total_s / self.runs:.0f} s each at "
            f"{self.throughput.train_images_per_s:.0f} training images/s ({self.throughput.source})"
        )


def measured_throughput(store: RunStore, config: TrainConfig) -> Throughput | None:
    """Median speed over the epochs of the latest finished runs like ``config`` on this device type."""
    device = resolve_device(config.device).type
    train_rates, eval_rates, used = [], [], 0
    for run in store.list():
        if used == RECENT_RUNS:
            break
        try:
            other = run.config()
        except CifarError:  # a damaged or foreign folder tells us nothing about speed
            continue
        starts = run.events("start")
        if (
            run.state != "finished"
            or (other.model, other.model_options, other.batch_size) != (config.model, config.model_options, config.batch_size)
            or not starts
            or not str(starts[-1].get("device", "")).startswith(device)
        ):
            continue
        n_val = starts[-1].get("n_val") or 0
        for event in run.events("epoch"):
            train_rates.append(event["images_per_s"])
            if n_val and event.get("eval_s"):
                eval_rates.append(n_val / event["eval_s"])
        used += 1
    if not train_rates:
        return None
    train = statistics.median(train_rates)
    evaluate = statistics.median(eval_rates) if eval_rates else train * EVAL_SPEEDUP
    return Throughput(train, evaluate, f"measured from {used} finished {config.model} run(s)")


def probe_throughput(config: TrainConfig, steps: int = PROBE_STEPS) -> Throughput:
    """Time a few training steps of ``config`` (model, augmentation, optimiser, precision and
    memory layout, through the engine's own ``train_step``) on random images, on a batch no larger
    than one ``PROBE_STEP_S`` step holds (the source says so when that is less than the config's)."""
    images = torch.randint(0, 256, (config.batch_size, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (config.batch_size,))
    batch, train = probe_batch(config, images, labels, steps)
    what = config.model if batch == config.batch_size else f"{batch} images of {config.model}"
    return Throughput(train, train * EVAL_SPEEDUP, f"timed {steps} training steps of {what} now")


def probe_batch(config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, steps: int) -> tuple[int, float]:
    """(batch, images/s): timed on the largest batch whose step takes about ``PROBE_STEP_S`` at most.

    A step costs a fixed part (optimizer, augmentation, Python) plus a part per image. Steps of
    ``PROBE_SMALL_BATCH`` and twice as many images give both, so the step of any batch can be
    predicted (a model whose small step already takes over half of ``PROBE_STEP_S`` is timed on that
    step alone, so MobileNetV3 at 224 px costs one small measurement). Judging by the small step alone
    counts the fixed part once per image and made every model look slow on a busy machine (fast_cnn
    timed on 8 images a step at 350 images/s instead of about 2,000, and the classroom budget read
    "buys about 0 epochs"). Each size's time is the median of ``steps`` steps, so one burst of other
    work does not decide it.
    """
    small = min(config.batch_size, PROBE_SMALL_BATCH)
    rates = {small: measure_images_per_s(replace(config, batch_size=small), images[:small], labels[:small], steps=steps)}
    if small == config.batch_size or 2 * small / rates[small] > PROBE_STEP_S:
        return small, rates[small]  # the whole batch, or a model so slow that no larger step fits
    double = 2 * small
    rates[double] = measure_images_per_s(replace(config, batch_size=double), images[:double], labels[:double], steps=steps)
    per_image = max(0.0, (double / rates[double] - small / rates[small]) / small)
    fixed = max(0.0, small / rates[small] - small * per_image)
    fits = config.batch_size if per_image == 0 else int((PROBE_STEP_S - fixed) / per_image)
    batch = max(small, min(config.batch_size, fits))
    if batch not in rates:
        probed = config if batch == config.batch_size else replace(config, batch_size=batch)
        rates[batch] = measure_images_per_s(probed, images[:batch], labels[:batch], steps=steps)
    return batch, rates[batch]


def device_throughput(store: RunStore, config: TrainConfig) -> Throughput:
    """Measured speed from finished runs when there are any, else a quick timing."""
    return measured_throughput(store, config) or probe_throughput(config)


def run_seconds(config: TrainConfig, dataset_size: int, speed: Throughput) -> float:
    """Predicted wall time of one run on a train split of ``dataset_size`` images."""
    seconds = config.epochs * epoch_seconds(config, dataset_size, speed)
    if config.budget_minutes is not None:  # a stretching budget trains until its end (docs/budget.md)
        seconds = config.budget_minutes * 60 if config.budget_stretch else min(seconds, config.budget_minutes * 60)
    return STARTUP_S + seconds


def epoch_seconds(config: TrainConfig, dataset_size: int, speed: Throughput) -> float:
    """Predicted wall time of one epoch (training and its validation) at ``speed``."""
    pool = min(config.limit or dataset_size, dataset_size)
    n_val = 0 if config.train_on_full else round(pool * config.val_fraction)
    return (pool - n_val) / speed.train_images_per_s + n_val / speed.eval_images_per_s


def budget_epochs(config: TrainConfig, dataset_size: int, speed: Throughput) -> int | None:
    """Whole epochs ``config``'s budget buys at ``speed`` (None without a budget), start-up paid first."""
    if config.budget_minutes is None:
        return None
    epochs = int(max(0.0, config.budget_minutes * 60 - STARTUP_S) / epoch_seconds(config, dataset_size, speed))
    return epochs if config.budget_stretch else min(epochs, config.epochs)


def estimate_study(study: Study, dataset_size: int, speed: Throughput) -> Estimate:
    """Sum of every planned run's predicted time (variants may differ in epochs, limit, …)."""
    total = sum(run_seconds(study.config_for(planned), dataset_size, speed) for planned in study.runs)
    return Estimate(len(study.runs), total, speed)


def check_budget(estimate: Estimate, max_minutes: float | None) -> None:
    """Refuse a study predicted to run over ``max_minutes``, saying by how much and what to cut."""
    if max_minutes is None or estimate.minutes <= max_minutes:
        return
    raise ConfigError(
        f"The study would take {estimate.describe()}, over the {max_minutes:g} min budget; "
        "use fewer variants, seeds, epochs or images (--limit), or raise the budget."
    )


# Fewer epochs than this and the runs of a small-subset study are still near chance, so their
# differences are noise (the "quick look": 2 epochs on 500 images kept all 30 runs at 10%).
MEANINGFUL_EPOCHS = 5


def budget_warning(study: Study, dataset_size: int, speed: Throughput) -> str | None:
    """Before Start: one sentence when a run's time budget buys too few epochs to mean anything at this speed."""
    config = study.base
    epochs = budget_epochs(config, dataset_size, speed)
    if epochs is None or epochs >= min(MEANINGFUL_EPOCHS, config.epochs):
        return None
    return (
        f"At this machine's speed now ({speed.train_images_per_s:.0f} training images/s) each run's "
        f"{config.budget_minutes:g}-min budget buys only {epochs} epochs, too few to mean "
        "anything: the variants would all sit near chance. Wait until the machine is less busy, or train fewer images."
    )


def cut_short_warning(runs: Sequence[Mapping[str, Any]], planned_epochs: int) -> str | None:
    """In the results: one sentence when finished runs stopped (on their time budget) too few epochs in to mean anything."""
    done = [int(run["epochs_done"]) for run in runs if run.get("state") == "finished"]
    if not done or min(done) >= min(MEANINGFUL_EPOCHS, planned_epochs):
        return None
    return (
        f"Some runs finished after only {min(done)} of {planned_epochs} epochs: their time budget ran out on a busy "
        "machine, too few epochs for the comparison to mean anything."
    )
