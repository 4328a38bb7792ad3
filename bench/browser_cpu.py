"""What the Train page costs the browser while a run trains: Chromium's CPU over 60 s, as JSON.

A teacher's laptop or a class server has two cores; a live page that redraws everything every
second takes one of them from training. This starts ``streamlit run`` on the synthetic set (the
same server the browser tests use), presses Start on Train the way a user does (a run long enough
to outlast the window), waits for the live view, then sums the CPU seconds of every Chromium
process (browser, renderer, GPU and utility processes, those that start or end inside the window
included) over ``--seconds`` of wall time. The Streamlit server's own CPU is reported beside it
(the training worker is a separate process and is not counted in either). Target: ≤ 15% of one core.

    python bench/browser_cpu.py [--seconds 60] [--out docs/bench/browser_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import app_server, browser_page, open_page, set_checkbox, set_number  # noqa: E402

from cifar_core.runs import RunStore  # noqa: E402

OUT = ROOT / "docs" / "bench" / "browser_cpu.json"


def _chromium_processes() -> list[psutil.Process]:
    """Every Chromium process started under this one (Playwright's driver launches the browser)."""
    return [proc for proc in psutil.Process().children(recursive=True) if "chrom" in proc.name().lower()]


def _cpu_seconds(processes: dict[int, psutil.Process]) -> dict[int, float]:
    seconds = {}
    for pid, proc in processes.items():
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[pid] = times.user + times.system
    return seconds


def browser_cpu(window_s: float, server_pid: int) -> dict[str, float]:
    """CPU seconds of Chromium and of the server over ``window_s``, sampled each second.

    A process's last sample stands for it once it has gone, and one that appears mid-window counts
    from zero, so short-lived renderer helpers are neither lost nor counted twice.
    """
    server = psutil.Process(server_pid)
    first = _cpu_seconds({proc.pid: proc for proc in _chromium_processes()})
    last = dict(first)
    server_start = sum(server.cpu_times()[:2])
    start = time.monotonic()
    while time.monotonic() - start < window_s:
        time.sleep(1.0)
        last.update(_cpu_seconds({proc.pid: proc for proc in _chromium_processes()}))
    wall = time.monotonic() - start
    used = sum(seconds - first.get(pid, 0.0) for pid, seconds in last.items())
    server_used = sum(server.cpu_times()[:2]) - server_start
    return {"wall_s": wall, "chromium_cpu_s": used, "server_cpu_s": server_used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        env = {"CIFAR_EXPLORER_RUNS": str(tmp / "runs"), "CIFAR_EXPLORER_DATA": "synthetic", "CIFAR_EXPLORER_CACHE": str(tmp / "cache")}
        with app_server(tmp, env) as server, browser_page(120_000) as page:
            server_pid = next(proc.pid for proc in psutil.process_iter(["cmdline"]) if _serves(proc, server.url))
            page.goto(server.url)
            page.get_by_text("Samples per class").wait_for(timeout=180_000)
            open_page(page, "Train")
            set_checkbox(page, "Fit training into a time budget", False)
            set_number(page, "Epochs", 200)
            page.get_by_role("button", name="Start training").click()
            page.locator("h3", has_text="running").wait_for(timeout=180_000)
            page.wait_for_timeout(5_000)  # the first curve points arrive
            run = RunStore(server.runs).list()[0]
            figures = browser_cpu(args.seconds, server_pid)
            state = run.state
            page.screenshot(path=str(tmp / "train.png"))
    summary = {
        "what": "CPU of all Chromium processes while the Train page shows a training run (synthetic set, 1400x900)",
        "command": "python bench/browser_cpu.py --seconds " + f"{args.seconds:g}",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs",
        **figures,
        "chromium_percent_of_one_core": 100 * figures["chromium_cpu_s"] / figures["wall_s"],
        "server_percent_of_one_core": 100 * figures["server_cpu_s"] / figures["wall_s"],
        "run_state_at_end": state,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "target_percent": 15,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


def _serves(proc: psutil.Process, url: str) -> bool:
    port = url.rsplit(":", 1)[1]
    cmdline = proc.info["cmdline"] or []
    return "streamlit" in " ".join(cmdline) and port in cmdline


if __name__ == "__main__":
    main()
