"""How fast the CLI answers: ``--help``, ``--version``, ``info`` and ``runs list`` over 1,000 runs.

Targets, so the CLI feels immediate at a shell prompt: ``--help`` <= 0.5 s, ``runs list`` with 1,000 runs <= 1 s.
Each command runs in a fresh interpreter, as a user's shell starts it; the median of a few repeats is kept with
the load average.

    PYTHONPATH=. python3 bench/cli_startup.py   # writes docs/bench/cli_startup.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3
N_RUNS = 1000


def seconds(argv: list[str], env: dict[str, str]) -> float:
    """Median wall time of ``python -m cifar_core *argv``."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cifar_core", *argv], check=True, capture_output=True, env=env, cwd=REPO)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def make_runs(root: Path) -> None:
    """``N_RUNS`` real run folders, made by RunStore as a training run would be (config and status, no checkpoint)."""
    from cifar_core.runs import RunStore
    from cifar_core.train import TrainConfig

    store = RunStore(root)
    for index in range(N_RUNS):
        store.create(TrainConfig(), f"bench-{index:04d}")


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as folder:
        make_runs(Path(folder))
        env["CIFAR_EXPLORER_RUNS"] = folder
        results = {
            "help_s": seconds(["--help"], env),
            "version_s": seconds(["--version"], env),
            "info_s": seconds(["info"], env),
            "runs_list_1000_s": seconds(["runs", "list", "--json"], env),
        }
    results.update(
        targets={"help_s": 0.5, "runs_list_1000_s": 1.0},
        repeats=REPEATS,
        load_average=[round(value, 2) for value in os.getloadavg()],
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
    )
    out = REPO / "docs" / "bench" / "cli_startup.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
