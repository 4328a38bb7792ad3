"""``train``: one run, in the foreground with a progress bar, or detached with ``--background``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli.config_flags import add_config_flags, config_from_args
from cifar_core.cli.output import emit_json, progress_bar
from cifar_core.errors import CifarError, ConfigError
from cifar_core.runs import Run, RunStore
from cifar_core.runs.health import chance_warning
from cifar_core.runs.process import execute, hold_for_resume, launch
from cifar_core.runs.progress import progress_from_events
from cifar_core.train import TrainConfig, TrainResult
from cifar_core.train.distributed import World, device_for, join, leave, world_from_env
from cifar_core.train.distributed import check_config as check_world

# The exit code of a run stopped by Ctrl-C: 128 + SIGINT, what a shell reports for it.
INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model (foreground, or --background)")
    add_config_flags(parser)
    parser.add_argument("--out", default=None, help="run folder (default: checkpoints/<auto id>)")
    parser.add_argument("--background", action="store_true", help="detach; follow with `runs list`")
    parser.add_argument("--json", action="store_true", help="print the final summary as JSON")
    parser.add_argument("--resume", action="store_true", help="with torchrun: go on with the run in --out from its last finished epoch")
    parser.set_defaults(func=run_train)


def store_and_id(out: str | None) -> tuple[RunStore, str | None]:
    """``--out DIR`` names the run folder: its parent is the store root, its name the run id."""
    if out is None:
        return RunStore(), None
    path = Path(out).expanduser().resolve()
    return RunStore(path.parent), path.name


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    world = world_from_env()
    if world.distributed:
        return run_distributed(args, config, world)
    if args.resume:
        raise ConfigError("--resume is for torchrun; resume a single-process run with `runs resume RUN`.")
    store, run_id = store_and_id(args.out)
    run = store.create(config, run_id)
    if not args.background:
        return train_here(run, args.json)
    pid = launch(run)
    if args.json:
        emit_json({"run_id": run.id, "dir": str(run.dir), "pid": pid})
    else:
        print(f"launched {run.id} (pid {pid}) in {run.dir}")
    return 0


def train_here(run: Run, as_json: bool, *, resume: bool = False) -> int:
    """Train ``run`` in this process with a progress bar and a line per epoch; the exit code.

    ``resume`` goes on from its last finished epoch (``runs resume`` in the foreground); the run is
    held before anything is shown, so a refusal is the only line printed. Ctrl-C stops the run,
    which ``execute`` records as ``interrupted``, and one sentence says how to go on with it. A new
    run that failed before training anything is removed (its error is printed, its name freed).
    """
    config = run.config()
    lock = hold_for_resume(run) if resume else None
    bar = progress_bar(as_json, total=None, unit="step")
    try:
        result = execute(run, resume=resume, lock=lock, on_event=_progress_printer(bar, config, as_json))
    except KeyboardInterrupt:
        bar.close()
        progress = run.progress()
        print(
            f"interrupted: run {run.id} stopped after {progress.epochs_done} of {progress.epochs_planned} epochs; "
            f"go on with `python3 -m cifar_core runs resume {run.dir}` (add --background to detach).",
            file=sys.stderr,
        )
        return INTERRUPTED
    finally:
        bar.close()
    if result is None:
        kept = "" if not resume and RunStore(run.dir.parent).discard_untrained(run) else f" (log: {run.log_path})"
        print(f"error: run {run.id} failed: {run.summary()['error']}{kept}", file=sys.stderr)
        return 2
    return report(run, result, as_json)


def _progress_printer(bar: Any, config: TrainConfig, as_json: bool) -> Callable[[dict], None]:
    """The event sink of a foreground run: the bar's steps, warnings, and a line per finished epoch."""
    events: list[dict] = []

    def show(event: dict) -> None:
        events.append(event)
        progress = progress_from_events(events, config)  # the same count as run.summary() and the app
        bar.total, bar.n = progress.steps_planned, progress.steps_done
        bar.refresh()
        if event["type"] == "start":
            for warning in event.get("warnings", ()):
                bar.write(f"warning: {warning}", file=sys.stderr)
        elif event["type"] == "step":
            bar.set_postfix(epoch=event["epoch"], loss=f"{event['train_loss']:.3f}", img_s=f"{event['images_per_s']:.0f}")
        elif event["type"] == "epoch":
            val = f"{event['val_acc']:.4f}" if event["val_acc"] is not None else "-"
            bar.write(
                f"epoch {event['epoch']}/{progress.epochs_planned}: train_loss {event['train_loss']:.4f} "
                f"train_acc {event['train_acc']:.4f} val_acc {val} ({event['epoch_s']:.1f} s)",
                file=sys.stderr if as_json else sys.stdout,  # stdout holds only the JSON document then
            )

    return show


def report(run: Run, result: TrainResult, as_json: bool, processes: int = 1) -> int:
    """The final line (or JSON summary) of a trained run, with a chance-level warning; the exit code."""
    summary = run.summary()
    where = f" on {processes} processes" if processes > 1 else ""
    if as_json:
        emit_json(summary)
    else:
        print(
            f"{run.id}: {summary['state']}{where}, {summary['epochs_done']}/{summary['epochs_planned']} epochs, "
            f"best val_acc {summary['best_val_acc']}, in {run.dir}"
        )
    if not as_json and (warning := chance_warning(run.events("epoch"), len(CIFAR10_CLASSES), finished=result.status == "finished")):
        print(f"warning: {warning}")
    return 0 if result.status == "finished" else 1


def run_distributed(args: argparse.Namespace, config: TrainConfig, world: World) -> int:
    """One rank of ``torchrun --nproc_per_node N -m cifar_core train ...``: rank 0 keeps the run folder."""
    import torch.distributed as dist

    from cifar_core.data import load_cifar
    from cifar_core.device import resolve_device
    from cifar_core.runs.checkpoint import load_checkpoint
    from cifar_core.train import train

    if args.background:
        raise ConfigError("--background cannot be combined with torchrun: torchrun itself keeps the processes.")
    if args.out is None:
        raise ConfigError("Under torchrun, name the run folder with --out so every process agrees on it.")
    device = device_for(world, resolve_device(config.device))
    check_world(world, config.batch_size, config.budget_minutes, sync_batchnorm=config.sync_batchnorm, device=device)
    join(world, device)  # before anything is written: a missing rank is one sentence
    store, run_id = store_and_id(args.out)
    outcome: list = [None]
    if world.is_writer:
        try:
            run = store.get(run_id) if args.resume else store.create(config, run_id)
            run.cancel_path.unlink(missing_ok=True)  # a resume goes on past an earlier cancel
            outcome[0] = str(run.dir)
        except CifarError as exc:
            outcome[0] = exc
    dist.broadcast_object_list(outcome, src=0)
    if isinstance(outcome[0], Exception):
        leave(world)
        raise outcome[0]
    run = Run(Path(outcome[0]))
    try:
        if world.is_writer:
            result = execute(run, resume=args.resume, exclusive=False)
            if result is None:
                print(f"error: run {run.id} failed: {run.summary()['error']} (log: {run.log_path})", file=sys.stderr)
                return 2
            return report(run, result, args.json, processes=world.size)
        state = load_checkpoint(run.checkpoint_path("last")) if args.resume else None
        train(config, load_cifar(config.data), resume=state)
        return 0
    finally:
        leave(world)
