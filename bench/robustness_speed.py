"""Seconds to score a run on N images × every robustness setting, written to docs/bench/robustness_cpu.json.

The target is 10,000 images × 30 settings in ≤ 3 minutes on the 2-core CPU for the classroom
recipe's network (``fast_cnn`` 32/64/128, the one the published figure was measured with). This
times ``score_model`` (what the CLI and the app call) on ``--n`` random images over all of
``TRANSFORMS`` (more than 30 settings) with freshly initialised weights (speed does not depend on
them). On a busy machine pass a smaller ``--n``: the JSON then holds the measured numbers and a
linear extrapolation to 10,000 images × 30 settings, marked as such, with the load average before
and after.  Run:  python bench/robustness_speed.py --n 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.device import memory_format, resolve_device
from cifar_core.evaluate import LoadedModel
from cifar_core.models import build_model
from cifar_core.robustness import TRANSFORMS, score_model
from cifar_core.train.presets import get_preset

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "robustness_cpu.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--preset", default="classroom")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    config = get_preset(args.preset).config()
    device = resolve_device("cpu")
    torch.manual_seed(0)
    model = build_model(config.model, dropout=config.dropout, options=config.model_options)
    loaded = LoadedModel(model.to(device, memory_format=memory_format(device)).eval(), config, CIFAR10_CLASSES, 0, device)
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 10, (args.n,), generator=torch.Generator().manual_seed(1))
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    score_model(loaded, images, labels)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    settings = sum(len(t.strengths) for t in TRANSFORMS.values()) + 1  # + the clean pass
    per_image_setting = wall / (args.n * settings)
    report = {
        "model": config.model,
        "preset": args.preset,
        "images": args.n,
        "transforms": settings,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "images_per_s": round(args.n * settings / wall, 1),
        "extrapolated_seconds_10000x30": round(per_image_setting * 10_000 * 30, 1),
        "extrapolated": args.n != 10_000,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
