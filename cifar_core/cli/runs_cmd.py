"""``runs list|resume|cancel|delete`` and the internal ``runs worker`` that background runs use.

``runs.process`` (the worker, which imports torch and the trainer) is imported only by the actions
that start or stop a run, so that ``runs list`` and ``runs delete`` answer without torch. A resume
trains in the foreground as ``train`` does (``train_cmd.train_here``); ``--background`` detaches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli.output import emit_json
from cifar_core.errors import RunError
from cifar_core.runs import Run, RunStore
from cifar_core.runs.health import chance_warning
from cifar_core.runs.store import DAMAGED, read_marker


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="list, resume, cancel or delete runs")
    parser.add_argument("--root", default=None, help="runs folder (default: checkpoints/ or $CIFAR_EXPLORER_RUNS)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="all runs with status and best validation accuracy")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    for name, func, help_text in (
        ("resume", run_resume, "continue an interrupted or cancelled run from last.pt (in the foreground, or --background)"),
        ("cancel", run_cancel, "stop a queued or running run, keeping its checkpoints"),
        ("delete", run_delete, "delete a finished, failed, cancelled or interrupted run"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("run", help="run id, or a run folder path")
        action.add_argument("--json", action="store_true", help="print one JSON object")
        action.set_defaults(func=func)
        if name == "resume":
            action.add_argument("--background", action="store_true", help="detach; follow with `runs list`")

    worker = actions.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("run_dir")
    worker.add_argument("--resume", action="store_true")
    worker.set_defaults(func=run_worker)


def resolve(args: argparse.Namespace) -> tuple[RunStore, Run]:
    """A bare id names a run in the runs folder (``--root``); anything with a ``/`` is a path to a run folder.

    A run id never holds ``/`` or ``..`` (``validate_run_id`` refuses both), so ``../runs/base`` is
    never an id: it is a path, resolved from the current folder like any path on a command line,
    and every message that changes the run names its full folder, so a run of another runs folder
    is never touched under a bare name. A path is accepted when it lies directly in the runs
    folder, or when the folder carries the run store's marker (then the store that made it is its
    parent). Its parent is never taken as a store just because a path was given: ``runs delete ./``
    would otherwise make the current folder's parent a "store" and the current folder a "run". A
    link is refused, not followed.
    """
    store = RunStore(args.root)
    if "/" not in args.run:
        return store, store.get(args.run)
    given = Path(args.run).expanduser().absolute()
    if given.is_symlink():
        raise RunError(f"{given} is a link; name the run folder itself.")
    path = given.resolve()
    if path.parent == store.root.resolve():
        return store, store.get(path.name)
    if read_marker(path) is not None:
        owner = RunStore(path.parent)
        return owner, owner.get(path.name)
    raise RunError(
        f"{path} is not a run folder: it is not in the runs folder {store.root} and has no run store marker "
        f"(pass --root with the folder that holds the run)."
    )


def run_list(args: argparse.Namespace) -> int:
    runs = RunStore(args.root).list()
    rows = [run.summary() for run in runs]
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("no runs yet")
    for run, row in zip(runs, rows):
        best = f"{row['best_val_acc']:.4f}" if row["best_val_acc"] is not None else "-"
        epochs = f"{row['epochs_done']}/{row['epochs'] or '-'}"
        line = f"{row['run_id']:<40} {row['state']:<11} {row['model'] or '-':<20} epochs {epochs} best val_acc {best}"
        if row["state"] == DAMAGED:
            line += f"  ({row['error']})"
        print(line)
        if warning := chance_warning(run.events("epoch"), len(CIFAR10_CLASSES), finished=row["state"] == "finished"):
            print(f"  warning: {warning}")
    return 0


def _done(args: argparse.Namespace, run: Run, action: str, sentence: str, **fields: object) -> None:
    """What a run-management action reports: its JSON object with --json, else one sentence.

    Both name the run's full folder, so a path that led somewhere unexpected shows where.
    """
    if args.json:
        emit_json({"run_id": run.id, "path": str(run.dir), "action": action, **fields})
    else:
        print(sentence)


def run_resume(args: argparse.Namespace) -> int:
    """Go on with a run from its last finished epoch: here, with ``train``'s progress bar and exit codes, or detached."""
    _, run = resolve(args)
    if not args.background:
        from cifar_core.cli.train_cmd import train_here

        return train_here(run, args.json, resume=True)
    from cifar_core.runs.process import launch

    pid = launch(run, resume=True)
    _done(args, run, "resume", f"resuming run {run.id} in {run.dir} (pid {pid})", pid=pid)
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from cifar_core.runs.process import cancel

    _, run = resolve(args)
    cancel(run)
    _done(args, run, "cancel", f"cancel requested for run {run.id} in {run.dir}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    store, run = resolve(args)
    store.delete(run.id)
    _done(args, run, "delete", f"deleted run {run.id}: its folder {run.dir} is gone")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from cifar_core.runs.process import execute

    result = execute(Run(Path(args.run_dir)), resume=args.resume)
    return 0 if result is not None else 1
