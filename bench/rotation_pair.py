"""Two runs that differ only in rotation augmentation, scored on rotated held-out images, with paired intervals.

The lesson study trains ``none`` and ``rotation`` with the same seed, recipe, images and epochs, so
seed by seed they are a pair that differs in one thing. This scores each pair's last weights on the
validation images both held out (the same images: same seed and split), turned by 0, 90, 180 and 270
degrees, and gives accuracy(rotation) − accuracy(none) with 95% intervals:

- per quarter turn, the library's paired bootstrap over images (``cifar_core.paired``, what
  ``cifar-explorer compare`` reports) and McNemar's exact p-value;
- pooled over 90/180/270, a bootstrap that resamples *images* and keeps an image's three turns
  together. The library's bootstrap treats every scored picture as independent, which three turns
  of one photo are not, so pooling them there would give an interval too narrow; this one is
  written here for that reason.

Run after ``cifar-explorer study --study lesson --runs-root ROOT``:
    python bench/rotation_pair.py --runs-root ROOT --data ../shared/data/cifar10-jpg-train.tar.gz
JSON goes to docs/bench/rotation_pair_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from pathlib import Path

import numpy as np
import torch

from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, split_images
from cifar_core.paired import LEVEL, RESAMPLES, SEED, compare_evaluations
from cifar_core.runs import RunStore

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "rotation_pair_cpu.json"
QUARTER_TURNS = (0, 1, 2, 3)


def pooled_interval(right_a: np.ndarray, right_b: np.ndarray, resamples: int, seed: int) -> dict:
    """Mean over images of (B's − A's share right over the image's turns), with a bootstrap over images.

    ``right_a``/``right_b`` are [turns, N] booleans; an image is resampled with all its turns.
    """
    per_image = right_b.mean(axis=0) - right_a.mean(axis=0)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(per_image), size=(resamples, len(per_image)))
    means = per_image[draws].mean(axis=1)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {"difference": float(per_image.mean()), "interval": [float(low), float(high)]}


def score_pair(store: RunStore, none_id: str, rotation_id: str, data) -> dict:
    pair = (("none", none_id), ("rotation", rotation_id))
    loaded = {name: load_run_model(store.get(run_id), which="last", device="cpu") for name, run_id in pair}
    images, labels, indices = split_images(loaded["none"].config, data, "val")
    _, _, other = split_images(loaded["rotation"].config, data, "val")
    if not torch.equal(indices, other):
        raise SystemExit(f"{none_id} and {rotation_id} hold out different images; they are not a pair")
    turns, right = [], {"none": [], "rotation": []}
    for k in QUARTER_TURNS:
        turned = torch.rot90(images, k, dims=(2, 3))
        a, b = (evaluate(loaded[name], turned, labels, indices) for name in ("none", "rotation"))
        comparison = compare_evaluations(a, b)
        turns.append(
            {
                "degrees": 90 * k,
                "accuracy_none": float(comparison.accuracy_a),
                "accuracy_rotation": float(comparison.accuracy_b),
                "difference": float(comparison.difference),
                "interval": comparison.interval.to_json(),
                "mcnemar_p": comparison.mcnemar_p,
            }
        )
        if k:
            right["none"].append(comparison.right_a.numpy())
            right["rotation"].append(comparison.right_b.numpy())
    pooled = pooled_interval(np.stack(right["none"]), np.stack(right["rotation"]), RESAMPLES, SEED)
    return {"none": none_id, "rotation": rotation_id, "images": len(labels), "turns": turns, "rotated_pooled": pooled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-root", type=Path, required=True, help="the runs root the lesson study trained into")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    store = RunStore(args.runs_root)
    ids = sorted(run.id for run in store.list() if re.search(r"-(none|rotation)-s\d+$", run.id) and run.state == "finished")
    seeds = sorted({re.search(r"-s(\d+)$", run_id).group(1) for run_id in ids})
    data = load_cifar(args.data)
    pairs = []
    for seed in seeds:
        none_id = next(run_id for run_id in ids if run_id.endswith(f"-none-s{seed}"))
        rotation_id = next(run_id for run_id in ids if run_id.endswith(f"-rotation-s{seed}"))
        pairs.append(score_pair(store, none_id, rotation_id, data))
    summary = {
        "what": "accuracy(rotation) - accuracy(none) on the held-out validation images, per quarter turn and pooled over 90/180/270",
        "interval": f"{LEVEL:.0%} paired bootstrap over images, {RESAMPLES} resamples, seed {SEED}",
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "pairs": pairs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
