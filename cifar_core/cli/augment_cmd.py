"""``augment``: preview the augmentation pipeline on training images as a PNG grid (and JSON).

It runs the very pipeline training uses, with CutMix partners drawn from the whole train split as
in the study, and records every applied op so the grid's captions and the JSON say exactly what
each image got.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cifar_core.augment import OP_NAMES, AugmentConfig, AugmentPipeline
from cifar_core.augment.ops import REGISTRY
from cifar_core.augment.preview import render_grid
from cifar_core.cli.output import emit_json
from cifar_core.data import load_cifar
from cifar_core.errors import ConfigError, DataError

DEFAULT_OPS = "rotation,resized_crop,translate,cutmix"
MAX_IMAGES = 256


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``augment`` command."""
    parser = subparsers.add_parser(
        "augment",
        help="preview augmentations on training images",
        description="Augment a seeded random selection of training images and write originals above "
        "their augmented versions as a PNG grid; --json also prints what was applied to each image.",
    )
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="folder or archive (torchvision, Kaggle or image-folder layout), or 'synthetic'; default: the project's data/ folder",
    )
    parser.add_argument(
        "--ops", default=DEFAULT_OPS, help=f"comma-separated ops in order, from {', '.join(OP_NAMES)} (default: {DEFAULT_OPS})"
    )
    parser.add_argument("--p", type=float, default=1.0, help="per-image probability of every op (default: 1.0)")
    parser.add_argument("--n", type=int, default=16, help=f"number of images, 1..{MAX_IMAGES} (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image selection and the augmentation")
    parser.add_argument("--out", default="augment-grid.png", metavar="PNG", help="where to write the grid")
    parser.add_argument("--json", action="store_true", help="print the applied ops per image as JSON")
    alpha_ops = ", ".join(name for name, spec in REGISTRY.items() if "alpha" in spec.params)
    parser.add_argument("--alpha", type=float, help=f"Beta parameter of {alpha_ops} (default: 0.3)")
    parser.add_argument("--scale", type=int, default=4, help="pixel upscaling of the grid tiles (default: 4)")
    parser.add_argument("--cache-dir", metavar="DIR", help="where decoded arrays are cached")
    parser.add_argument("--resize", action="store_true", help="resize images that are not 32x32")
    parser.set_defaults(func=run)


def build_config(ops: str, p: float, alpha: float | None) -> AugmentConfig:
    """The CLI's pipeline: every listed op at probability ``p``, ops with an ``alpha`` parameter set to ``alpha`` if given."""
    names = [name.strip() for name in ops.split(",") if name.strip()]
    if not names:
        raise ConfigError("--ops must name at least one op.")
    config = AugmentConfig.study(p, p, ops=names)
    if alpha is not None:
        for op in config.ops:
            if "alpha" in REGISTRY[op.name].params:
                op.params["alpha"] = alpha
    return AugmentConfig.from_dict(config.to_dict())  # validates the alpha


def run(args: argparse.Namespace) -> int:
    """Load the data, augment the selection, write the grid, report."""
    if not 1 <= args.n <= MAX_IMAGES:
        raise ConfigError(f"--n must be between 1 and {MAX_IMAGES}, got {args.n}.")
    if not 1 <= args.scale <= 16:
        raise ConfigError(f"--scale must be between 1 and 16, got {args.scale}.")
    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}.")
    config = build_config(args.ops, args.p, args.alpha)
    data = load_cifar(args.data, cache_dir=args.cache_dir, resize=args.resize)
    train = data.splits.get("train")
    labelled = None if train is None else (train.labels >= 0).nonzero().squeeze(1)
    if labelled is None or not labelled.numel():
        raise DataError(f"{data.source} has no labelled training images to preview.")
    pool = (train.images[labelled], train.labels[labelled])

    generator = torch.Generator().manual_seed(args.seed)
    chosen = torch.randperm(len(labelled), generator=generator)[: args.n]
    images, labels = pool[0][chosen], pool[1][chosen]
    result = AugmentPipeline(config, num_classes=len(data.classes))(images, labels, generator, record=True, pool=pool)

    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        render_grid(images, result.images, result.records, data.classes, scale=args.scale).save(out, format="PNG")
    except OSError as exc:
        raise ConfigError(f"Cannot write the grid to {out}: {exc.strerror or exc}.") from None

    if args.json:
        report = {
            "ops": config.to_dict()["ops"],
            "seed": args.seed,
            "out": str(out),
            "images": [
                _named(record, chosen[i].item(), labelled.tolist(), pool[1].tolist(), data.classes)
                for i, record in enumerate(result.records or [])
            ],
        }
        emit_json(report)
    else:
        names = ", ".join(op.name for op in config.ops)
        print(f"wrote {out}: {len(images)} training images, ops {names} at p={args.p}")
    return 0


def _named(record: dict[str, Any], chosen: int, train_index: list[int], labels: list[int], classes: Sequence[str]) -> dict[str, Any]:
    """A record for people: train-split indices (of the image and of mix partners) and class names.

    ``chosen`` and the partners index the labelled training images; ``train_index`` maps them to
    the train split and ``labels`` gives their classes.
    """
    ops = [
        {**op, "partner": train_index[op["partner"]], "partner_class": classes[labels[op["partner"]]]}
        if REGISTRY[op["op"]].kind == "mix"
        else op
        for op in record["ops"]
    ]
    return {
        "index": record["index"],
        "train_index": train_index[chosen],
        "class": classes[labels[chosen]],
        "ops": ops,
        "label_weights": {classes[cls]: weight for cls, weight in record["label_weights"].items()},
    }
