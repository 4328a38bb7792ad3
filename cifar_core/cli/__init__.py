"""Command-line interface: ``python -m cifar_core <command> ...`` (installed as ``cifar-explorer``).

Each sub-command lives in its own module exposing ``register(subparsers)``; that module adds its
parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.

The dispatcher imports only the module of the command that was chosen: most modules import torch
(about 2 s) and scikit-learn, which ``--help``, ``--version`` and ``runs list`` never need. So every
command is named in ``COMMANDS`` with its one-line help, and ``--help`` is drawn from that table alone.
To add a command, add one line ``"name": ("cifar_core.cli.module", "help"),``; the module's
``register`` must add a parser called ``name`` (a module may register several names: list each).

User errors (``CifarError``) print one line to stderr and exit with code 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cifar_core.errors import CifarError

# command name -> (module that registers it, one-line help), in the order of ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "app": ("cifar_core.cli.app_cmd", "start the Streamlit app (from any folder)"),
    "info": ("cifar_core.cli.info_cmd", "the version and the folders in use, and why"),
    "data": ("cifar_core.cli.data_cmd", "inspect dataset sources"),
    "augment": ("cifar_core.cli.augment_cmd", "preview augmentations on training images"),
    "train": ("cifar_core.cli.train_cmd", "train a model (foreground, or --background)"),
    "evaluate": ("cifar_core.cli.evaluate_cmd", "score a run's model on a split"),
    "predict": ("cifar_core.cli.evaluate_cmd", "write a Kaggle submission CSV (id,label)"),
    "robustness": ("cifar_core.cli.robustness_cmd", "score a run on rotated, shifted, noisy and blurred copies of the same images"),
    "compare": ("cifar_core.cli.compare_cmd", "score two runs on the same images: paired difference, per class, flipped images"),
    "mistakes": ("cifar_core.cli.explain_cmd", "every misclassified image of a split, most confident first"),
    "explain": ("cifar_core.cli.explain_cmd", "saliency maps (Grad-CAM or occlusion) for chosen images"),
    "embed": ("cifar_core.cli.explain_cmd", "2-D map (PCA + t-SNE) of a split's penultimate features, as CSV"),
    "label-issues": ("cifar_core.cli.explain_cmd", "images whose label the model disputes (cleanlab), most suspect first"),
    "runs": ("cifar_core.cli.runs_cmd", "list, resume, cancel or delete runs"),
    "presets": ("cifar_core.cli.presets_cmd", "list the training recipes"),
    "study": ("cifar_core.cli.study_cmd", "train an augmentation ablation or a hyper-parameter grid and compare the variants"),
    "export": ("cifar_core.cli.export_cmd", "export a run's model (ONNX or TorchScript), checked against PyTorch on real images"),
}


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The first argument that names a command (options before it take no values at the top level)."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the chosen command's full parser and a one-line stub for every other command.

    With ``argv=None`` every module registers (the complete parser, for tests and documentation).
    """
    from cifar_core import __version__

    parser = argparse.ArgumentParser(
        prog="cifar-explorer",
        description="Train, compare and understand CIFAR-10 classifiers from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"cifar-explorer {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen_command(argv) if argv is not None else None
    wanted = {module for module, _ in COMMANDS.values()} if argv is None else {COMMANDS[chosen][0]} if chosen else set()
    imported: set[str] = set()
    for name, (module_name, help_text) in COMMANDS.items():
        if module_name not in wanted:
            subparsers.add_parser(name, help=help_text, add_help=False)
        elif module_name not in imported:
            imported.add(module_name)
            importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    from cifar_core.cli.output import quiet_broken_pipe

    try:
        with quiet_broken_pipe():
            return int(args.func(args) or 0)
    except CifarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
