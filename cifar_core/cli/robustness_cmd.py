"""``robustness``: a run's accuracy on the same images rotated, flipped, shifted, cropped and corrupted (CIFAR-10-C)."""

from __future__ import annotations

import argparse
import math

from cifar_core.cli.evaluate_cmd import RUN_HELP, open_run
from cifar_core.cli.output import BarOnFirstReport, emit_json
from cifar_core.robustness import TRANSFORMS, load_scorable, score_model, scoring_images


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("robustness", help="score a run on transformed and corrupted images")
    parser.add_argument("--run", required=True, help=RUN_HELP)
    parser.add_argument("--data", default=None, help="dataset (default: the one the run trained on)")
    parser.add_argument("--split", choices=("test", "val", "train"), default="test")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--transforms", nargs="+", choices=tuple(TRANSFORMS), default=None, help="only these (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_robustness)


def run_robustness(args: argparse.Namespace) -> int:
    run = open_run(args.run)
    loaded = load_scorable(run, args.checkpoint, args.device)
    images, labels = scoring_images(loaded, args.data or loaded.config.data, args.split)

    with BarOnFirstReport(args.json, unit="setting", desc="robustness") as progress:
        result = score_model(loaded, images, labels, args.transforms, progress=progress)
    report = {"run": run.id, "split": args.split, "checkpoint": args.checkpoint, "epoch": loaded.epoch, **result.to_json()}
    if args.json:
        emit_json(report)
        return 0
    mca = "n/a" if math.isnan(result.mca) else f"{result.mca:.4f}"
    print(f"{run.id} ({args.checkpoint}, epoch {loaded.epoch}) on {args.split}, n={result.n}: clean {result.clean_accuracy:.4f}, mCA {mca}")
    for name, row in result.accuracy.items():
        cells = "  ".join(f"{TRANSFORMS[name].strengths[s - 1]}: {acc:.3f}" for s, acc in row.items())
        print(f"  {name:<15} {cells}")
    return 0
