"""Run a named study on real images and publish its small results to docs/studies/<name>/.

Usage: python scripts/publish_study.py NAME --data PATH [--device cpu] [--seeds N] [--epochs N] [--limit N]

The runs train one after another in this process, seed by seed, and the published folder is
rewritten after every run, so a study stopped part-way still publishes what finished; the same
command started again goes on with the runs that have not finished (the study folder lives at
``<runs root>/studies/<name>``). Prints one JSON line at the end. Results depend on the seeds and
epochs, not on how busy the machine is: no time budget is used.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch  # noqa: E402

from cifar_core.errors import CifarError  # noqa: E402
from cifar_core.runs import Run, RunStore  # noqa: E402
from cifar_core.runs.process import execute  # noqa: E402
from cifar_core.study import StudyFolder, drive  # noqa: E402
from cifar_core.study.catalog import NAMED_STUDIES, get_named_study  # noqa: E402
from cifar_core.study.lesson import takeaway  # noqa: E402
from cifar_core.study.published import LESSON, PUBLISHED_ROOT, add_rotated_scores, export_study, load_published  # noqa: E402
from cifar_core.study.stats import compare_variants, conclusion  # noqa: E402

DEFAULT_RUNS_ROOT = Path(__file__).resolve().parents[1] / "checkpoints" / "published"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(NAMED_STUDIES), help="named study")
    parser.add_argument("--data", required=True, help="dataset path (the shared CIFAR-10 tarball)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: the study's)")
    parser.add_argument("--epochs", type=int, default=None, help="override the study's epochs (a quick look)")
    parser.add_argument("--limit", type=int, default=None, help="override the study's number of images")
    parser.add_argument(
        "--stop-after-minutes",
        type=float,
        default=None,
        help="start no new run after this long (the runs themselves keep their epochs; whole seeds publish)",
    )
    parser.add_argument("--runs-root", type=Path, default=DEFAULT_RUNS_ROOT, help="where the runs (with weights) go")
    parser.add_argument("--out", type=Path, default=None, help="published folder (default docs/studies/<name>)")
    args = parser.parse_args(argv)
    command = "python scripts/publish_study.py " + " ".join(shlex.quote(word) for word in (argv if argv is not None else sys.argv[1:]))
    try:
        summary = publish(args, command)
    except CifarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0 if summary["runs_finished"] == summary["runs_planned"] else 1


def publish(args: argparse.Namespace, command: str) -> dict:
    named = get_named_study(args.name)
    overrides = {"data": args.data, "device": args.device}
    overrides.update({key: value for key, value in (("epochs", args.epochs), ("limit", args.limit)) if value is not None})
    study = named.plan(args.runs_root, seeds=args.seeds, study_id=named.name, **overrides)
    out = args.out or PUBLISHED_ROOT / named.name
    folder = StudyFolder(RunStore(args.runs_root).root / "studies" / named.name)
    if folder.study_path.exists():
        earlier = folder.study()
        if (earlier.base.to_dict(), earlier.seeds) != (study.base.to_dict(), study.seeds):
            raise CifarError(f"{folder.dir} holds this study with other settings; give another --runs-root to start afresh.")
        study = earlier  # the same study stopped part-way: go on with its runs
    else:  # the study id is the name, so its run ids are fixed and a rerun finds them
        folder = StudyFolder.create(folder.dir, study)
    folder.cancel_path.unlink(missing_ok=True)  # an earlier stop-after request of this same command
    started = time.perf_counter()

    def run_one(run: Run, resume: bool) -> None:
        execute(run, resume=resume)
        export_study(study, out, command)
        if args.stop_after_minutes is not None and time.perf_counter() - started > 60 * args.stop_after_minutes:
            folder.request_cancel()  # drive starts no further run; this one is complete

    def announce(index: int, planned) -> None:
        print(f"[{index + 1}/{len(study.runs)}] {planned.variant}, seed {planned.seed}", file=sys.stderr, flush=True)

    state = drive(folder, run_one, on_start=announce)
    export_study(study, out, command)
    if named.name == LESSON:  # the lesson's answer lies in rotated validation images, scored from the runs' weights
        add_rotated_scores(study, out)
    published = load_published(out)
    comparisons = compare_variants(published.runs, published.reference, variants=published.variants)
    return {
        "study": named.name,
        "state": state,
        "out": str(out),
        "runs_finished": len(published.runs),
        "runs_planned": len(study.runs),
        "wall_s": round(time.perf_counter() - started, 1),
        "device": _device_name(args.device),
        "conclusion": conclusion(comparisons),
        "sentences": [c.sentence() for c in comparisons],
        **({"takeaway": takeaway(published.runs, published.reference, published.variants)} if named.name == LESSON else {}),
    }


def _device_name(device: str) -> str:
    if device in ("cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return device


if __name__ == "__main__":
    sys.exit(main())
