"""Seconds to score 10,000 images on the Evaluate page's code path, printed as JSON.

The Evaluate page promises a 10,000-image test set scored in about 10 s on a 2-core CPU without
test-time augmentation. This times ``cifar_core.evaluate.evaluate`` (what the page and the CLI
call) for the simple CNN and the classroom recipe's network (``fast_cnn`` 32/64/128), with each TTA level, and reports wall
seconds and process CPU seconds: on a machine shared with other jobs, wall time is inflated while
CPU seconds divided by the threads used is close to what an idle machine takes. Weights are
freshly initialised (speed does not depend on them). Run:  python bench/evaluate_speed.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from cifar_core.classes import CIFAR10_CLASSES  # noqa: E402
from cifar_core.device import memory_format, resolve_device  # noqa: E402
from cifar_core.evaluate import LoadedModel, evaluate  # noqa: E402
from cifar_core.models import build_model  # noqa: E402
from cifar_core.train import TrainConfig  # noqa: E402
from cifar_core.train.presets import get_preset  # noqa: E402


def time_scoring(config: TrainConfig, images: torch.Tensor, tta: str) -> dict:
    device = resolve_device("auto")
    torch.manual_seed(0)
    model = build_model(config.model, dropout=config.dropout, options=config.model_options)
    loaded = LoadedModel(model.to(device, memory_format=memory_format(device)).eval(), config, CIFAR10_CLASSES, 0, device)
    labels = torch.zeros(len(images), dtype=torch.long)
    evaluate(loaded, images[:500], labels[:500], tta=tta)  # warm-up: oneDNN picks its kernels
    batches = []
    wall, cpu = time.perf_counter(), time.process_time()
    evaluate(loaded, images, labels, tta=tta, progress=lambda done, total: batches.append(done))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "model": config.model,
        "options": config.model_options,
        "tta": tta,
        "images": len(images),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "idle_estimate_s": round(cpu / torch.get_num_threads(), 2),
        "progress_updates": len(batches),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--tta", default="none,flip,flip_shift", help="comma-separated TTA levels")
    args = parser.parse_args()
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    results = [
        time_scoring(config, images, tta)
        for config in (TrainConfig(model="simple_cnn"), get_preset("classroom").config())
        for tta in args.tta.split(",")
    ]
    print(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "load_average": os.getloadavg(),
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
