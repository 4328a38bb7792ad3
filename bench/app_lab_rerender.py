"""How long the Augmentation lab takes to redraw its 16 previews after a slider move, as JSON.

Drives the real page through Streamlit's ``AppTest`` (the whole script: cached dataset, pipeline,
image encoding, the CutMix view), moving the ``aug_p`` slider between timed reruns. The target is
0.3 s per redraw. Browser rendering comes on top and is not measured here.

    python bench/app_lab_rerender.py [--data synthetic|PATH] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="data source the app loads (default: synthetic)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update(
            CIFAR_EXPLORER_DATA=args.data,
            CIFAR_EXPLORER_RUNS=str(Path(scratch) / "runs"),
            CIFAR_EXPLORER_CACHE=os.environ.get("CIFAR_EXPLORER_CACHE", str(Path(scratch) / "cache")),
        )
        from streamlit.testing.v1 import AppTest

        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=1800)
        app.run()
        app.switch_page("app_pages/augmentation_lab.py").run()
        durations = []
        for repeat in range(args.repeats):
            app.slider(key="lab_aug_p").set_value(round(0.2 + 0.05 * (repeat % 10), 2))
            start = time.perf_counter()
            app.run()
            durations.append(time.perf_counter() - start)
            if app.exception:
                raise SystemExit(f"the page raised: {app.exception[0].value}")
    print(
        json.dumps(
            {
                "bench": "app_lab_rerender",
                "data": args.data,
                "previews": 16,
                "repeats": args.repeats,
                "median_s": round(statistics.median(durations), 4),
                "max_s": round(max(durations), 4),
                "target_s": 0.3,
                "cpu_count": os.cpu_count(),
                "machine": platform.platform(),
            }
        )
    )


if __name__ == "__main__":
    main()
