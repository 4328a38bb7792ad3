"""``cifar-explorer info``: the version and which folders are in use, with the reason for each."""

from __future__ import annotations

import argparse

from cifar_core.cli.output import emit_json
from cifar_core.paths import default_roots


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` command."""
    parser = subparsers.add_parser("info", help="the version and the folders in use, and why")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cifar_core import __version__

    roots = default_roots()
    document = {"version": __version__, **roots.as_dict()}
    if args.json:
        emit_json(document)
        return 0
    print(f"cifar-explorer {__version__}")
    print(f"code:    {'source checkout ' + str(roots.checkout) if roots.checkout else 'installed package'}")
    for name in ("runs", "data", "studies"):
        print(f"{name + ':':8} {getattr(roots, name)}  ({getattr(roots, name + '_why')})")
    return 0
