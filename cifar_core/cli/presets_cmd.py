"""``presets``: the named recipes that ``train --preset NAME`` loads."""

from __future__ import annotations

import argparse

from cifar_core.cli.output import emit_json
from cifar_core.train.presets import PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("presets", help="list the training recipes")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run_presets)


def run_presets(args: argparse.Namespace) -> int:
    if args.json:
        emit_json({name: {"description": p.description, "config": p.config().to_dict()} for name, p in PRESETS.items()})
        return 0
    for name, preset in PRESETS.items():
        print(f"{name:<16} {preset.description}")
    return 0
