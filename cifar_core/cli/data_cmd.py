"""``data info``: show what a dataset source holds, as text or as one JSON object."""

from __future__ import annotations

import argparse

from cifar_core.cli.output import emit_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command and its ``info`` sub-command."""
    data = subparsers.add_parser("data", help="inspect dataset sources")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = actions.add_parser(
        "info",
        help="show a source's format, split sizes and class counts",
        description="Load a CIFAR-10 source (decoding it into the cache on first use) and summarise it.",
    )
    info.add_argument(
        "--data",
        metavar="PATH",
        help="folder or archive (torchvision, Kaggle or image-folder layout), or 'synthetic'; default: the project's data/ folder",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    info.add_argument("--cache-dir", metavar="DIR", help="where decoded arrays are cached")
    info.add_argument("--resize", action="store_true", help="resize images that are not 32x32")
    info.set_defaults(func=run_info)


def format_info(summary: dict) -> str:
    """The plain-text report of a ``CifarData.describe()`` summary."""
    lines = [
        f"format:  {summary['format']}" + ("  (procedurally drawn stand-in, not real CIFAR-10)" if summary["synthetic"] else ""),
        f"source:  {summary['source']}",
    ]
    for name, split in summary["splits"].items():
        lines.append(f"{name}: {split['count']} images" + ("" if split["per_class"] else " (unlabelled)"))
        lines += [f"  {class_name:<11} {count}" for class_name, count in split["per_class"].items()]
    lines.append(f"cache:   {summary['cache'] or '(none)'}")
    if summary["skipped_files"]:
        lines.append(f"skipped: {summary['skipped_files']} non-image files")
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    """Load the source and print its summary; bad sources raise ``DataError`` (exit code 2)."""
    from cifar_core.data import load_cifar  # here, not at the top: `data info --help` must not wait for torch
    from cifar_core.data.decode import ImageSizeError

    try:
        data = load_cifar(args.data, cache_dir=args.cache_dir, resize=args.resize)
    except ImageSizeError as exc:  # this command can resize: say how
        raise ImageSizeError(f"{exc}, or pass --resize to resize them while loading") from exc
    summary = data.describe()
    if args.json:
        emit_json(summary)
    else:
        print(format_info(summary))
    return 0
