"""Command-line interface: ``python -m cifar_core <command> ...``.

Each sub-command lives in its own module exposing ``register(subparsers)``; that module adds its
parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
User errors (``CifarError``) print one line to stderr and exit with code 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cifar_core.errors import CifarError

# Sub-command modules, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "cifar_core.cli.data_cmd",
    "cifar_core.cli.augment_cmd",
    "cifar_core.cli.train_cmd",
    "cifar_core.cli.evaluate_cmd",
    "cifar_core.cli.robustness_cmd",
    "cifar_core.cli.explain_cmd",
    "cifar_core.cli.runs_cmd",
    "cifar_core.cli.presets_cmd",
    "cifar_core.cli.study_cmd",
    "cifar_core.cli.export_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser from every available sub-command module."""
    parser = argparse.ArgumentParser(
        prog="cifar-explorer",
        description="Train, compare and understand CIFAR-10 classifiers from the command line.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CifarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
