"""Seconds per training epoch of each model on this machine, printed as JSON.

Times ``--steps`` training steps (after two warm-up steps; the median step counts) through the
engine's own ``train_step``, on real images with the study's augmentation settings, and
extrapolates to one epoch of ``--epoch-images`` images (40,000: the study's 80/20 split of the
50,000 training images). Extrapolating is honest here: every step of an epoch does the same work.
Run:  python bench/epoch_time.py --data ../shared/data/cifar10-jpg-train.tar.gz
"""

from __future__ import annotations

import argparse
import json
import platform

import torch

from cifar_core.data import load_cifar  # noqa: E402
from cifar_core.train import TrainConfig  # noqa: E402
from cifar_core.train.step import StepSettings, measure_images_per_s  # noqa: E402


def seconds_per_epoch(
    config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, steps: int, epoch_images: int, baseline: bool
) -> dict:
    """``baseline`` measures the engine as first written (fp32, NCHW) for a before/after figure."""
    settings = StepSettings.of(config)
    if baseline:
        settings = settings.replace(precision="fp32", memory_format=torch.contiguous_format)
    images_per_s = measure_images_per_s(config, images, labels, steps=steps, warmup=2, settings=settings)
    return {
        "model": config.model,
        "batch_size": config.batch_size,
        "device": str(settings.device),
        "settings": "fp32, NCHW (before)" if baseline else f"precision {config.precision}, {str(settings.memory_format).split('.')[-1]}",
        "images_per_s": round(images_per_s, 1),
        "seconds_per_epoch": round(epoch_images / images_per_s, 1),
        "timed_steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epoch-images", type=int, default=40_000)
    parser.add_argument("--cnn-steps", type=int, default=40)
    parser.add_argument("--mobilenet-steps", type=int, default=4)
    args = parser.parse_args()
    split = load_cifar(args.data).splits["train"]
    images, labels = split.images[:5000], split.labels[:5000]
    configs = [
        (TrainConfig(model="simple_cnn", batch_size=256, device=args.device), args.cnn_steps),
        (
            TrainConfig(
                model="mobilenet_v3_large", batch_size=64, device=args.device, model_options={"pretrained": False, "resolution": 224}
            ),
            args.mobilenet_steps,
        ),
        (
            TrainConfig(
                model="fast_cnn",
                batch_size=512,
                device=args.device,
                optimizer="sgd",
                lr=0.2,
                model_options={"widths": [32, 64, 128]},
                augment_ops=["hflip", "translate"],
                aug_p=0.5,
                mix_p=0.0,
            ),
            args.cnn_steps // 2,
        ),
    ]
    results = [
        seconds_per_epoch(config, images, labels, steps, args.epoch_images, baseline)
        for config, steps in configs
        for baseline in (True, False)
    ]
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip(),
                "torch": torch.__version__,
                "epoch_images": args.epoch_images,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
