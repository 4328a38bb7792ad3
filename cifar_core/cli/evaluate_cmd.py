"""``evaluate`` (scores on a split) and ``predict`` (Kaggle ``id,label`` CSV for unlabelled images)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cifar_core.calibration import BINNING, reliability
from cifar_core.cli.output import BarOnFirstReport, emit_json
from cifar_core.data import load_cifar
from cifar_core.errors import ConfigError
from cifar_core.evaluate import evaluate, load_run_model, predict_unlabelled, split_images
from cifar_core.models.inference import TTA_MODES
from cifar_core.runs import Run, RunStore
from cifar_core.runs.atomic import write_atomic


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score a run's model on a split")
    _add_run_flags(parser)
    parser.add_argument("--data", default=None, help="dataset (default: the one the run trained on)")
    parser.add_argument("--split", choices=("val", "test", "train"), default="val")
    _add_tta_flag(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the bar stays on stderr)")
    parser.set_defaults(func=run_evaluate)

    parser = subparsers.add_parser("predict", help="write a Kaggle submission CSV (id,label)")
    _add_run_flags(parser)
    parser.add_argument("--images", required=True, help="test.7z, a Kaggle folder, or an image folder/archive")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the bar stays on stderr)")
    _add_tta_flag(parser)
    parser.set_defaults(func=run_predict)


def _add_tta_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tta",
        nargs="?",
        choices=TTA_MODES,
        default="none",
        const="flip_shift",
        help="test-time augmentation: flip (mirror, 2 passes) or flip_shift (mirror and 1-px shifts, 6 passes; what --tta alone means)",
    )


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help=RUN_HELP)
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto")


RUN_HELP = "run id (as `runs list` shows it) or a run folder's path"


def open_run(name: str) -> Run:
    """The run every ``--run`` names: an id in the runs folder, or a path (``RunStore.locate``)."""
    return RunStore().locate(name)


def run_evaluate(args: argparse.Namespace) -> int:
    run = open_run(args.run)
    loaded = load_run_model(run, args.checkpoint, args.device)
    data = load_cifar(args.data or loaded.config.data)
    images, labels, indices = split_images(loaded.config, data, args.split)
    with BarOnFirstReport(args.json, unit="img", desc="evaluate") as progress:
        result = evaluate(loaded, images, labels, indices, tta=args.tta, progress=progress)
    report = {"run": run.id, "split": args.split, "checkpoint": args.checkpoint, "epoch": loaded.epoch, "tta": args.tta, **result.to_json()}
    calibration = reliability(result.probs, result.labels)
    report.update(ece=calibration.ece, reliability=calibration.to_json())
    if args.json:
        emit_json(report)
        return 0
    print(
        f"{run.id} ({args.checkpoint}, epoch {loaded.epoch}) on {args.split}: "
        f"accuracy {report['accuracy']:.4f}, loss {report['loss']:.4f}, n={report['n']}"
    )
    print(f"  calibration error (ECE, {BINNING}): {report['ece']:.4f}")
    for name, scores in report["per_class"].items():
        print(f"  {name:<11} precision {scores['precision']:.3f} recall {scores['recall']:.3f} f1 {scores['f1']:.3f} n={scores['support']}")
    for pair in report["most_confused"][:5]:
        print(f"  {pair['true']} taken for {pair['predicted']}: {pair['count']} ({pair['rate']:.1%})")
    return 0


HEADER = "id,label"


def prediction_target(text: str) -> Path:
    """The ``--out`` file, checked before any prediction is computed.

    It must name a file in an existing folder; an existing file is only replaced when it is a
    prediction CSV (its first line is ``id,label``), never anything this command cannot have written.
    """
    out = Path(text).expanduser()
    try:
        if out.is_dir():
            raise ConfigError(f"--out {text} is a folder; give a file name such as {out / 'submission.csv'}.")
        if not out.parent.is_dir():
            raise ConfigError(f"--out {text}: the folder {out.parent} does not exist.")
        if out.exists() or out.is_symlink():
            first = b""
            if out.is_file():  # never open anything else: a FIFO would block
                with out.open("rb") as handle:
                    first = handle.readline(64).strip()
            if first != HEADER.encode():
                raise ConfigError(f"--out {text} already exists and is not a prediction file (id,label); choose another name.")
    except OSError as exc:
        raise ConfigError(f"--out {text[:200]} cannot be written: {exc.strerror or exc}.") from exc
    return out


def run_predict(args: argparse.Namespace) -> int:
    out = prediction_target(args.out)
    run = open_run(args.run)
    loaded = load_run_model(run, args.checkpoint, args.device)
    with BarOnFirstReport(args.json, unit="img", desc="predict") as progress:
        predictions = predict_unlabelled(loaded, args.images, tta=args.tta, batch_size=args.batch_size, on_batch=progress)
    # ids are file names: one that is not UTF-8 is written back as the bytes it had on disk
    write_atomic(out, lambda handle: handle.write(predictions.to_csv().encode("utf-8", "surrogateescape")))
    if args.json:
        emit_json({"run": run.id, "checkpoint": args.checkpoint, "tta": args.tta, "out": str(out), "n": len(predictions)})
    else:
        print(f"wrote {len(predictions)} predictions to {out}")
    return 0
