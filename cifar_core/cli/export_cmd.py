"""``export``: a run's model as an ONNX or TorchScript file that takes uint8 32x32 RGB images and
names its classes and preprocessing in its own metadata."""

from __future__ import annotations

import argparse

from cifar_core.cli.evaluate_cmd import RUN_HELP, open_run
from cifar_core.cli.output import emit_json
from cifar_core.data import load_cifar
from cifar_core.export import FORMATS, check_destination, export_run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a run's model (ONNX or TorchScript), checked against PyTorch on real images")
    parser.add_argument("--run", required=True, help=RUN_HELP)
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True, help="file to write (never overwritten)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--data", default=None, help="images for the parity check (default: the run's own data)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (with the metadata written into the file)")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    check_destination(args.out, args.format)  # before any loading: a bad path fails at once
    run = open_run(args.run)
    data = load_cifar(args.data or run.config().data)
    split = "test" if "train" not in data.splits else "train"
    report = export_run(run, args.format, args.out, images=data.splits[split].images, checkpoint=args.checkpoint)
    if args.json:
        emit_json(report.to_json())
    else:
        meta = report.metadata
        print(
            f"wrote {report.path} ({report.format}, input {meta['input']}, output {meta['output']}); "
            f"largest difference from PyTorch on {report.parity_images} images: {report.max_abs_diff:.2g}\n"
            f"metadata: classes {meta['classes']}; {meta['preprocessing']} (mean {meta['mean']}, std {meta['std']})"
        )
    return 0
