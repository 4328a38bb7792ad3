"""``train``: one run, in the foreground with a progress bar, or detached with ``--background``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from cifar_core.cli.config_flags import add_config_flags, config_from_args
from cifar_core.runs import RunStore
from cifar_core.runs.progress import progress_from_events
from cifar_core.runs.process import execute, launch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model (foreground, or --background)")
    add_config_flags(parser)
    parser.add_argument("--out", default=None, help="run folder (default: checkpoints/<auto id>)")
    parser.add_argument("--background", action="store_true", help="detach; follow with `runs list`")
    parser.add_argument("--json", action="store_true", help="print the final summary as JSON")
    parser.set_defaults(func=run_train)


def store_and_id(out: str | None) -> tuple[RunStore, str | None]:
    """``--out DIR`` names the run folder: its parent is the store root, its name the run id."""
    if out is None:
        return RunStore(), None
    path = Path(out).expanduser().resolve()
    return RunStore(path.parent), path.name


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    store, run_id = store_and_id(args.out)
    run = store.create(config, run_id)
    if args.background:
        pid = launch(run)
        print(json.dumps({"run_id": run.id, "dir": str(run.dir), "pid": pid}) if args.json else f"launched {run.id} (pid {pid}) in {run.dir}")
        return 0

    bar = tqdm(total=None, unit="step", dynamic_ncols=True, disable=args.json)
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
                f"train_acc {event['train_acc']:.4f} val_acc {val} ({event['epoch_s']:.1f} s)"
            )

    result = execute(run, on_event=show)
    bar.close()
    summary = run.summary()
    if result is None:
        kept = "" if store.discard_untrained(run) else f" (log: {run.log_path})"
        print(f"error: run {run.id} failed: {summary['error']}{kept}", file=sys.stderr)
        return 2
    print(
        json.dumps(summary) if args.json else f"{run.id}: {summary['state']}, {summary['epochs_done']}/{summary['epochs_planned']} epochs, "
        f"best val_acc {summary['best_val_acc']}, in {run.dir}"
    )
    return 0 if result.status == "finished" else 1
