"""How long the Runs page and the sidebar's run picker take to draw with 1,000 runs, as JSON.

Makes 1,000 run folders (marked finished, untrained: the page reads every run's status, config,
metrics and notes alike) in a scratch runs folder, 300 of them one study's, 20 started "from
this browser", then times whole script runs of the Runs and Evaluate pages through Streamlit's
``AppTest`` (the sidebar is drawn on both) and the picker's own work alone. Target: 1 s each.

    python bench/runs_page.py [--runs 1000] [--repeats 3] [--out docs/bench/runs_page.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "benchbenchbench0"


def _make_runs(root: Path, count: int) -> None:
    from cifar_core.runs import RunStore
    from cifar_core.study import StudyFolder, studies_root
    from cifar_core.study.definition import plan_study
    from cifar_core.train import TrainConfig
    from cifar_core.ui import browser

    config = TrainConfig(data="synthetic", epochs=1, limit=200)
    store = RunStore(root)
    study = plan_study(config, root, grid="aug_p=" + ",".join(f"{i / 100:.2f}" for i in range(30)), seeds=10)
    StudyFolder.create(studies_root(root) / study.id, study)
    for planned in study.runs[: min(300, count)]:
        store.create(config, planned.run_id).update_status(state="finished")
    own = []
    for i in range(count - min(300, count)):
        run = store.create(config, f"simple_cnn-20261201-{i // 60 // 60:02d}{i // 60 % 60:02d}{i % 60:02d}-{i:04x}")
        run.update_status(state="finished")
        if i % 35 == 0:
            own.append(run.id)
    browser.save_values(root, TOKEN, {browser.OWN_RUNS: own[:20]})


def _time_page(page: str, repeats: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.query_params["b"] = TOKEN
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [element.value for element in at.exception]
    times = []
    for _ in range(repeats):  # a click or a refresh: the same session's next script run
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return times


def _time_picker(root: Path, repeats: int) -> list[float]:
    from cifar_core.runs import RunStore
    from cifar_core.ui import sidebar

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        store = RunStore(root)
        runs = store.list()
        sidebar.run_choices(runs, sidebar._studies(store), [], sidebar._names(runs))
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "runs_page.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "runs"
        os.environ.update(CIFAR_EXPLORER_RUNS=str(root), CIFAR_EXPLORER_DATA="synthetic", CIFAR_EXPLORER_CACHE=str(Path(scratch) / "cache"))
        os.environ.pop("CIFAR_EXPLORER_DATA_ROOTS", None)
        _make_runs(root, args.runs)
        picker = _time_picker(root, args.repeats)
        runs_page = _time_page("runs", args.repeats)
        evaluate_page = _time_page("evaluate", args.repeats)
    result = {
        "runs": args.runs,
        "picker_s": {"median": statistics.median(picker), "all": picker},
        "runs_page_s": {"median": statistics.median(runs_page), "all": runs_page},
        "evaluate_page_with_sidebar_s": {"median": statistics.median(evaluate_page), "all": evaluate_page},
        "target_s": 1.0,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "note": "whole script runs through AppTest (server side); the browser's drawing comes on top. "
        "Evaluate's time includes scoring nothing: the selected run is untrained, so the page stops after the sidebar.",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
