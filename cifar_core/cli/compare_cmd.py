"""``compare``: two runs on the same labelled images, with a paired interval (B − A)."""

from __future__ import annotations

import argparse

from cifar_core.calibration import BINNING
from cifar_core.cli.evaluate_cmd import RUN_HELP, open_run
from cifar_core.cli.output import BarOnFirstReport, emit_json
from cifar_core.data import load_cifar
from cifar_core.errors import ConfigError
from cifar_core.paired import RESAMPLES, SEED, TEST_METHOD, compare_runs

FLIPS_SHOWN = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="score two runs on the same images: paired difference, per class, flipped images")
    parser.add_argument("--run", action="append", required=True, help=RUN_HELP + "; give it twice: --run A --run B (B − A)")
    parser.add_argument("--data", default=None, help="labelled dataset (default: the one run A trained on)")
    parser.add_argument(
        "--split", choices=("test", "val", "train"), default="test", help="val/train only when both runs hold out the same images"
    )
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    if len(args.run) != 2:
        raise ConfigError(f"compare needs exactly two runs (--run A --run B), got {len(args.run)}.")
    if args.resamples < 100:
        raise ConfigError(f"--resamples {args.resamples} is too few for a 95% interval; use at least 100.")
    run_a, run_b = (open_run(path) for path in args.run)
    data = load_cifar(args.data or run_a.config().data)
    with BarOnFirstReport(args.json, unit="img", desc="compare") as progress:
        result = compare_runs(
            run_a, run_b, data, args.split, which=args.checkpoint, device=args.device, resamples=args.resamples, seed=args.seed,
            progress=progress,
        )  # fmt: skip
    report = {
        "run_a": run_a.id,
        "run_b": run_b.id,
        "data": data.source,
        "split": args.split,
        "checkpoint": args.checkpoint,
        **result.to_json(run_a.id, run_b.id),
    }
    if args.json:
        emit_json(report)
        return 0
    print(report["summary"])
    print(f"  A {run_a.id}: accuracy {report['accuracy_a']:.4f} · B {run_b.id}: accuracy {report['accuracy_b']:.4f} · n={report['n']}")
    print(
        f"  right→wrong {report['right_to_wrong']}, wrong→right {report['wrong_to_right']}"
        f"; interval: {report['interval_method']}; p: {TEST_METHOD}"
    )
    for row in report["per_class"]:
        if row["delta"] is not None:
            low, high = (f"{100 * bound:+.1f}" for bound in row["interval"])
            print(
                f"  {row['class']:<11} {100 * row['accuracy_a']:5.1f}% → {100 * row['accuracy_b']:5.1f}%"
                f"  {100 * row['delta']:+.1f} [{low}, {high}] n={row['support']}"
            )
    for kind, title in (("right_to_wrong", "right→wrong"), ("wrong_to_right", "wrong→right")):
        flips = report["flips"][kind]
        print(f"  {title} ({len(flips)}{', surest of B first' if flips else ''}):")
        for item in flips[:FLIPS_SHOWN]:
            a, b = item["a"], item["b"]
            print(
                f"    image {item['index']} ({item['true']}): "
                f"A {a['predicted']} {a['confidence']:.0%} · B {b['predicted']} {b['confidence']:.0%}"
            )
    calibration = report["calibration"]
    print(f"  ECE ({BINNING}): A {calibration['a']['ece']:.4f} · B {calibration['b']['ece']:.4f}")
    return 0
