"""Time the first (decoding) load and the cached load of the shared CIFAR-10 tarball.

Usage: ``python bench/data_load.py [--source PATH]``; prints one JSON object. A fresh temporary
cache folder is used, so the first load always decodes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import torch  # noqa: E402

from cifar_core.data import load_cifar  # noqa: E402

SHARED_TARBALL = REPO.parent / "shared" / "data" / "cifar10-jpg-train.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SHARED_TARBALL, help="dataset to load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cifar-bench-cache-") as cache_dir:
        start = time.perf_counter()
        first = load_cifar(args.source, cache_dir=cache_dir)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        cached = load_cifar(args.source, cache_dir=cache_dir)
        cached_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "first_load_s": round(first_s, 2),
                "cached_load_s": round(cached_s, 2),
                "n": sum(len(split) for split in cached.splits.values()),
                "format": first.format,
                "source": first.source,
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
