"""``study``: train an augmentation ablation, a hyper-parameter grid or a named study, and compare the variants.

The base config comes from the same flags as ``train`` (or, with ``--study NAME``, from the named
study, which the flags then adjust, e.g. ``--epochs 1 --limit 200`` for a quick look). Runs are ordinary run folders in the
runs root (``--runs-root``, default ``checkpoints/`` or ``$CIFAR_EXPLORER_RUNS``), so every other
command and page sees them; the study folder (``--out``, default ``<runs root>/studies/<id>``)
holds ``study.json``, ``results.csv`` (one row per variant) and ``results_runs.csv`` (one per run).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from cifar_core.cli.config_flags import FIELD_FLAGS, add_config_flags, config_from_args
from cifar_core.cli.output import emit_json, progress_bar
from cifar_core.errors import ConfigError
from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import execute
from cifar_core.runs.progress import progress_from_events
from cifar_core.study import (
    StudyFolder,
    cancel_study,
    check_budget,
    device_throughput,
    display_table,
    drive,
    estimate_study,
    find_study,
    launch_driver,
    refresh_results,
    run_table,
    studies_root,
)
from cifar_core.study.catalog import NAMED_STUDIES, get_named_study
from cifar_core.study.definition import PlannedRun, Study, plan_study
from cifar_core.study.execution import OnStart, background_run_one
from cifar_core.study.ray_backend import check_address, drive_on_ray
from cifar_core.study.stats import compare_variants, conclusion
from cifar_core.train.config import STUDY_OPS, TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="train an augmentation ablation or a hyper-parameter grid and compare the variants",
        description="Train variants of one base config (set with the train flags) over one or more seeds and "
        "write one results table. Runs go to the runs root; the study folder holds study.json and results.csv.",
    )
    what = parser.add_argument_group("what to study (one of)").add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--ablate",
        nargs="?",
        const=",".join(STUDY_OPS),
        metavar="OPS",
        help=f"ablate these augmentations: none, each alone, all but one, all (default {','.join(STUDY_OPS)})",
    )
    what.add_argument("--grid", metavar="SPEC", help="grid over config fields, e.g. 'aug_p=0.03,0.06;mix_p=0.01,0.02,0.03'")
    what.add_argument("--study", dest="named", metavar="NAME", help=f"a named study: {', '.join(NAMED_STUDIES)} (see --list)")
    what.add_argument("--list", action="store_true", help="list the named studies with their estimated minutes on this machine")
    what.add_argument("--show", metavar="STUDY", help="print an existing study's results (id or folder)")
    what.add_argument("--cancel", metavar="STUDY", help="cancel a study's remaining runs (id or folder)")
    what.add_argument("--worker", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument(
        "--seeds", type=int, default=None, help="repeat every variant with seeds seed, seed+1, … (default 1; a named study's own, 3)"
    )
    parser.add_argument("--runs-root", default=None, help="where the runs go (default checkpoints/ or $CIFAR_EXPLORER_RUNS)")
    parser.add_argument("--out", default=None, help="study folder (default <runs root>/studies/<study id>)")
    parser.add_argument("--background", action="store_true", help="launch a detached driver and return")
    parser.add_argument("--max-minutes", type=float, default=None, help="refuse a study estimated to take longer")
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: one run after another on this machine (default); ray: each run a Ray task",
    )
    parser.add_argument("--address", default=None, help="Ray cluster address HOST:PORT (default: start a local Ray)")
    parser.add_argument("--cpus-per-run", type=int, default=1, help="CPUs a Ray task takes when the cluster has no GPU")
    parser.add_argument("--json", action="store_true", help="print machine-readable output")
    add_config_flags(parser)
    parser.set_defaults(func=run_study)


def run_study(args: argparse.Namespace) -> int:
    if args.worker:
        folder = StudyFolder(args.worker)
        status = folder.raw_status()
        if status.get("backend") == "ray":
            state = drive_on_ray(folder, address=status.get("address"), cpus_per_run=status.get("cpus_per_run", 1))
        else:
            state = drive(folder, background_run_one(folder))
        return 0 if state == "finished" else 1
    if args.list:
        return list_named(args)
    if args.show or args.cancel:
        folder = find_study(args.show or args.cancel, args.runs_root)
        if args.cancel:
            cancel_study(folder)
            print(f"cancel requested for study {folder.dir.name}")
            return 0
        return report(folder, args.json)
    return start_study(args)


def start_study(args: argparse.Namespace) -> int:
    from cifar_core.data import load_cifar

    if args.backend == "ray":
        check_address(args.address)  # before any planning: an unreachable cluster is one sentence
    store = RunStore(args.runs_root)
    study = planned_study(args, store)
    base = study.base
    train_images = len(load_cifar(base.data).splits["train"].labels)
    estimate = estimate_study(study, train_images, device_throughput(store, base))
    check_budget(estimate, args.max_minutes)
    folder = StudyFolder.create(args.out or studies_root(store.root) / study.id, study)
    folder.update_status(estimate_s=estimate.total_s, estimate=estimate.describe())
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    say(f"study {study.id}: {len(study.variants)} variant(s) x {len(study.seeds)} seed(s); {estimate.describe()}")
    if args.backend == "ray":
        folder.update_status(backend="ray", address=args.address, cpus_per_run=args.cpus_per_run)
    if args.background:
        pid = launch_driver(folder)
        if args.json:
            emit_json({"study_id": study.id, "dir": str(folder.dir), "pid": pid, "estimate_s": estimate.total_s})
        else:
            print(f"launched study {study.id} (pid {pid}) in {folder.dir}; follow with: study --show {folder.dir}")
        return 0
    if args.backend == "ray":  # the runs train in Ray's workers, whose steps this process does not hear
        state = drive_on_ray(folder, address=args.address, cpus_per_run=args.cpus_per_run, on_start=announce(say, len(study.runs)))
    else:
        with StudyProgress(len(study.runs), args.json) as progress:
            state = drive(folder, progress.run_one, on_start=progress.on_start)
    code = report(folder, args.json)
    return code if state == "finished" else 1


def planned_study(args: argparse.Namespace, store: RunStore) -> Study:
    """The study the flags ask for: a named one (flags adjust its base), an ablation or a grid."""
    if args.named is not None:
        named = get_named_study(args.named)
        stray = [flag for flag, given in (("--preset", args.preset), ("--ops", args.ops), ("--model-option", args.model_option)) if given]
        if stray:
            raise ConfigError(f"A named study brings its own recipe; {', '.join(stray)} cannot change it (the other train flags can).")
        overrides = {dest: getattr(args, dest) for dest in FIELD_FLAGS if getattr(args, dest) is not None}
        return named.plan(store.root, seeds=args.seeds, **overrides)
    if args.ablate is not None and args.ops is not None:
        raise ConfigError("--ops sets the base's augmentations, but --ablate replaces them: give only --ablate.")
    ablate = [op.strip() for op in args.ablate.split(",")] if args.ablate is not None else None
    return plan_study(config_from_args(args), store.root, ablate=ablate, grid=args.grid, seeds=args.seeds or 1)


def list_named(args: argparse.Namespace) -> int:
    """Name, description and estimated minutes (from this machine's speed) of every named study."""
    store = RunStore(args.runs_root)
    rows = []
    for named in NAMED_STUDIES.values():
        base = named.config()
        estimate = named.estimate(device_throughput(store, base))
        rows.append({"name": named.name, "description": named.description, "estimate_minutes": round(estimate.minutes, 1)})
    if args.json:
        emit_json(rows)
    else:
        for row in rows:
            print(f"{row['name']:<14} about {row['estimate_minutes']:g} min  {row['description']}")
    return 0


Say = Callable[[str], None]
# The study's bar counts runs, the current one by its share of steps done: "1.4/8 runs".
STUDY_BAR = "{l_bar}{bar}| {n:.1f}/{total_fmt} runs [{elapsed}<{remaining}]"


class StudyProgress:
    """A foreground study's progress on stderr: one bar over the study's runs and one over the current run's steps.

    The study bar moves with the current run's steps, so its time estimate starts with the first run's first
    steps rather than after a whole run. The lines that say which run starts and how each epoch ended are
    printed between the bars' redraws (on stderr under ``--json``, where stdout holds only the document);
    ``--json`` into a pipe hides the bars and keeps those lines.
    """

    def __init__(self, total: int, as_json: bool) -> None:
        self.say: Say = lambda text: tqdm.write(text, file=sys.stderr if as_json else sys.stdout)
        self.study = progress_bar(as_json, total=total, desc="study", bar_format=STUDY_BAR)
        self.run = progress_bar(as_json, unit="step", desc="run", leave=False)
        self.started = 0
        self.events: list[dict[str, Any]] = []
        self.config: TrainConfig | None = None
        self.on_start = announce(self.say, total, then=self._next_run)

    def __enter__(self) -> StudyProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.run.close()
        self.study.close()

    def _next_run(self, index: int, planned: PlannedRun) -> None:
        self.started += 1
        self.events, self.config = [], None
        self.run.reset(total=None)
        self.run.set_description(f"{planned.variant}, seed {planned.seed}", refresh=False)
        self._move(self.started - 1, 0.0)

    def run_one(self, run: Run, resume: bool) -> None:
        """Train in this process, the run's bar following its steps and one line per epoch."""
        self.config = run.config()
        execute(run, resume=resume, on_event=self._hear)

    def _hear(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        progress = progress_from_events(self.events, self.config)  # the count the train command's bar shows
        self.run.total, self.run.n = progress.steps_planned or None, progress.steps_done
        self.run.refresh()
        self._move(self.started - 1, progress.fraction)
        if event["type"] == "epoch" and event["val_acc"] is not None:
            self.say(
                f"    epoch {event['epoch']}: train_acc {event['train_acc']:.3f} val_acc {event['val_acc']:.3f} "
                f"val_loss {event['val_loss']:.3f} ({event['epoch_s']:.0f} s)"
            )

    def _move(self, runs_before: int, fraction: float) -> None:
        self.study.n = runs_before + fraction
        self.study.refresh()


def announce(say: Say, total: int, then: OnStart | None = None) -> OnStart:
    """Print which run of the study starts, e.g. ``[3/8] rotation, seed 1: run <id>``, and pass it on to ``then``."""

    def on_start(index: int, planned: PlannedRun) -> None:
        say(f"[{index + 1}/{total}] {planned.variant}, seed {planned.seed}: run {planned.run_id}")
        if then is not None:
            then(index, planned)

    return on_start


def report(folder: StudyFolder, as_json: bool) -> int:
    """Print the study's table (refreshed from its runs); exit 0 only when every run finished."""
    variants = refresh_results(folder)
    status = folder.status()
    complete = bool((variants["runs_finished"] == variants["runs_planned"]).all())
    study = folder.study()
    comparisons = compare_variants(run_table(study), study.reference_variant, variants=[v.name for v in study.variants])
    if as_json:
        rows = [
            {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}
            for row in variants.to_dict("records")
        ]
        emit_json(
            {
                "study_id": folder.dir.name,
                "dir": str(folder.dir),
                "state": status["state"],
                "results_csv": str(folder.results_path),
                "variants": rows,
                "sentences": [c.sentence() for c in comparisons],
                "conclusion": conclusion(comparisons),
            }
        )
    else:
        print(f"study {folder.dir.name}: {status['state']}; results in {folder.results_path}")
        print(display_table(variants).to_string(index=False))
        print("\n".join(["", *(c.sentence() for c in comparisons), conclusion(comparisons)]))
    return 0 if complete else 1
