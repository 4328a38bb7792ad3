"""Throughput of the study's augmentation pipeline on uint8 batches, printed as JSON.

The study pipeline is rotation, resized_crop and translate at ``aug_p`` plus CutMix at ``mix_p``
(by default equal to ``aug_p``); p=0.06 is the study's setting, p=1.0 the worst case where every
op touches every image. Each setting gets warm-up calls and then several timed repeats; the JSON
gives the median (and best) images per second, per device, plus each op alone at p=1.

    python bench/augment_speed.py [--batch 512] [--repeats 30] [--aug-p 0.06 1.0] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from cifar_core.augment import AugmentConfig, AugmentPipeline  # noqa: E402

STUDY_OPS = ("rotation", "resized_crop", "translate", "cutmix")


def time_pipeline(config: AugmentConfig, images: torch.Tensor, labels: torch.Tensor, warmup: int, repeats: int) -> list[float]:
    """Seconds per call of the pipeline on this batch, after ``warmup`` untimed calls."""
    pipeline = AugmentPipeline(config)
    generator = torch.Generator().manual_seed(0)
    cuda = images.is_cuda
    for _ in range(warmup):
        pipeline(images, labels, generator)
    seconds = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        pipeline(images, labels, generator)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def summary(seconds: list[float], batch: int, **fields: object) -> dict[str, object]:
    median = statistics.median(seconds)
    return {
        **fields,
        "images_per_s": round(batch / median),
        "images_per_s_best": round(batch / min(seconds)),
        "ms_per_batch": round(median * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--aug-p", type=float, nargs="+", default=[0.06, 1.0])
    parser.add_argument("--mix-p", type=float, help="CutMix probability (default: the aug_p of each run)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", choices=["cpu", "cuda"], action="append", help="default: cpu, and cuda if present")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    generator = torch.Generator().manual_seed(0)
    cpu_images = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8, generator=generator)
    cpu_labels = torch.randint(0, 10, (args.batch,), generator=generator)
    pipelines, per_op = [], []
    for device in devices:
        images, labels = cpu_images.to(device), cpu_labels.to(device)
        for aug_p in args.aug_p:
            mix_p = aug_p if args.mix_p is None else args.mix_p
            seconds = time_pipeline(AugmentConfig.study(aug_p, mix_p), images, labels, args.warmup, args.repeats)
            pipelines.append(summary(seconds, args.batch, device=device, aug_p=aug_p, mix_p=mix_p))
        for op in STUDY_OPS:
            seconds = time_pipeline(AugmentConfig.study(1.0, 1.0, ops=(op,)), images, labels, args.warmup, args.repeats)
            per_op.append(summary(seconds, args.batch, device=device, op=op, p=1.0))

    report = {
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "batch": args.batch,
        "dtype": "uint8",
        "repeats": args.repeats,
        "pipeline": pipelines,
        "per_op": per_op,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
