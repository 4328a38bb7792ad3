"""Run-time estimates shared by the Train and Experiments pages, from one measured probe.

The speed is ``study.estimate.device_throughput`` (finished runs like this one on this device,
else a few timed training steps), cached per speed-relevant setting: changing the learning rate
or the epochs must not time the model again, changing the model or the batch size must. While a
model is timed the page shows a bar with the seconds so far (the probe keeps to a few seconds a
model, see ``study.estimate.PROBE_STEP_S``); the timing runs beside the script, which only watches it.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from cifar_core.device import resolve_device
from cifar_core.runs import RunStore
from cifar_core.study import Throughput, device_throughput
from cifar_core.study.estimate import run_seconds
from cifar_core.train import TrainConfig

# The settings a training step's speed depends on; the rest only decide how many steps there are.
SPEED_FIELDS = (
    "model",
    "model_options",
    "batch_size",
    "dropout",
    "aug_p",
    "mix_p",
    "augment_ops",
    "augment_params",
    "optimizer",
    "bias_lr_scale",
    "device",
    "precision",
)
# Model options that pick the starting weights, not the step: the probe times random weights
# (``measure_images_per_s`` builds with ``pretrained=False``), so flipping MobileNet's weights
# radio must not time a 224 px MobileNet again (tens of seconds on a CPU each time).
WEIGHT_SOURCE_OPTIONS = ("pretrained", "weights_path")


CACHE_S = 300  # a speed is measured again after 5 minutes: the machine's load changes
POLL_S = 0.25
_measured: dict[tuple[str, str], tuple[float, Throughput]] = {}
_timing: dict[tuple[str, str], Future] = {}  # a click during a timing reruns the page, which waits on the same one
_lock = threading.Lock()
_probes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speed-probe")  # one timing at a time: two would slow each other


def _throughput(speed_json: str, runs_root: str) -> Throughput:
    key = (speed_json, runs_root)
    with _lock:
        kept = _measured.get(key)
        if kept is not None and time.monotonic() - kept[0] < CACHE_S:
            return kept[1]
        if key not in _timing:
            _timing[key] = _probes.submit(device_throughput, RunStore(runs_root), TrainConfig.from_dict(json.loads(speed_json)))
        future = _timing[key]
    started, bar = time.monotonic(), None
    while not future.done():
        waited = time.monotonic() - started
        if waited > 1.0:  # finished runs answer at once; a bar only for a real timing
            bar = bar or st.empty()
            model = json.loads(speed_json)["model"]
            bar.progress(min(0.95, waited / 10), text=f"Measuring this machine's training speed for {model}: {waited:.0f} s…")
        time.sleep(POLL_S)
    if bar is not None:
        bar.empty()
    with _lock:
        _timing.pop(key, None)
        speed = future.result()  # a failed timing raises here, and the next run times again
        _measured[key] = (time.monotonic(), speed)
    return speed


def throughput(config: TrainConfig, store: RunStore) -> Throughput:
    """This device's speed for ``config`` (kept for 5 minutes: timing a model takes seconds)."""
    speed = {field: getattr(config, field) for field in SPEED_FIELDS}
    speed["model_options"] = {key: value for key, value in config.model_options.items() if key not in WEIGHT_SOURCE_OPTIONS}
    return _throughput(json.dumps(speed, sort_keys=True), str(store.root))


def run_estimate(config: TrainConfig, train_images: int, store: RunStore) -> tuple[float, str]:
    """Seconds from Start to the end of one run of ``config`` and the words for it ("about 3 min on this CPU")."""
    speed = throughput(config, store)
    seconds = run_seconds(config, train_images, speed)
    where = resolve_device(config.device).type.upper()
    return seconds, f"about {duration_words(seconds)} on this {where}"


def duration_words(seconds: float) -> str:
    """``"45 s"``, ``"2.5 min"``, ``"12 min"``: as precise as an estimate deserves."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"
