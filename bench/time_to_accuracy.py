"""Wall time until validation accuracy first reaches given targets, per recipe and seed (JSON).

Uses the shared training images with a fixed 45,000/5,000 split (val_fraction 0.1, stratified,
the split seed fixed at 0 so every recipe and seed is scored on the same 5,000 images), runs the
recipe under test and the study's simple-CNN recipe in the same invocation for a side-by-side
ratio. Accuracy is measured at the end of each epoch, so a time-to-target is an upper bound
within one epoch. The clock starts when training starts (data already decoded and cached) and
includes validation. After training, the final weights are scored with both TTA levels
(``final_val_acc_tta`` is flip_shift) and the seconds each took; ``curve`` is every epoch's
(time, accuracy).

  python bench/time_to_accuracy.py --data ../shared/data/cifar10-jpg-train.tar.gz \
      --recipe fast --budget-minutes 5 --seeds 0,1,2 --compare study_cnn --compare-epochs 8
  python bench/time_to_accuracy.py --data ../shared/data/cifar10-jpg-train.tar.gz \
      --recipe fast_wide --budget-minutes 15 --seeds 0,1,2 --compare '' --set lookahead=false
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from cifar_core.data import load_cifar  # noqa: E402
from cifar_core.device import resolve_device  # noqa: E402
from cifar_core.evaluate import LoadedModel, evaluate, split_images  # noqa: E402
from cifar_core.models import build_model  # noqa: E402
from cifar_core.train import TrainConfig, train  # noqa: E402
from cifar_core.train.presets import get_preset  # noqa: E402


def split_config(preset: str, data, seed: int, device: str, overrides: dict) -> TrainConfig:
    """The recipe's config on the fixed split: val_fraction 0.1, stratified, split seed 0 whatever ``seed`` is."""
    fixed = {"data": data.source, "val_fraction": 0.1, "seed": seed, "split_seed": 0, "device": device}
    return get_preset(preset).config(**{**fixed, **overrides})


def run_once(preset: str, data, seed: int, targets: list[float], device: str, overrides: dict) -> dict:
    config = split_config(preset, data, seed, device, overrides)
    events: list[dict] = []
    saved: dict = {}
    target_device = resolve_device(device)
    _synchronize(target_device)
    wall_start = time.perf_counter()
    result = train(config, data, on_event=events.append, save=saved.__setitem__)
    _synchronize(target_device)
    wall = time.perf_counter() - wall_start
    start = next(e["time"] for e in events if e["type"] == "start")
    epochs = [e for e in events if e["type"] == "epoch"]
    reached = {}
    for target in targets:
        hit = next((e for e in epochs if e["val_acc"] is not None and e["val_acc"] >= target), None)
        reached[f"{target:.2f}"] = None if hit is None else round(hit["time"] - start, 1)
    # TTA score of the final weights on the same validation images
    payload = saved["last"]
    model = build_model(config.model, dropout=config.dropout, options=config.model_options)
    model.load_state_dict(payload["model"])
    loaded = LoadedModel(model.to(target_device), config, data.classes, payload["epoch"], target_device)
    images, labels, indices = split_images(config, data, "val")
    tta = {}
    for mode in ("flip", "flip_shift"):
        tta_start = time.perf_counter()
        tta[mode] = {
            "val_acc": evaluate(loaded, images, labels, indices, tta=mode).accuracy,
            "seconds": round(time.perf_counter() - tta_start, 2),
        }
    return {
        "recipe": preset,
        "seed": seed,
        "epochs": len(epochs),
        "wall_s": round(wall, 3),
        "final_val_acc": epochs[-1]["val_acc"],
        "final_val_acc_tta": tta["flip_shift"]["val_acc"],
        "tta": tta,
        "best_val_acc": result.best_val_acc,
        "time_to": reached,
        "curve": [{"epoch": e["epoch"], "s": round(e["time"] - start, 1), "val_acc": e["val_acc"]} for e in epochs],
    }


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summarise(runs: list[dict], targets: list[float]) -> dict:
    def mean_std(values: list[float]) -> dict:
        return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0, "n": len(values)}

    summary = {key: mean_std([r[key] for r in runs]) for key in ("final_val_acc", "final_val_acc_tta", "wall_s")}
    for target in targets:
        key = f"{target:.2f}"
        times = [r["time_to"][key] for r in runs if r["time_to"][key] is not None]
        summary[f"time_to_{key}"] = {**mean_std(times), "reached": f"{len(times)}/{len(runs)}"} if times else {"reached": f"0/{len(runs)}"}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--budget-minutes", type=float, default=None, help="budget for the recipe under test")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for the recipe under test (reference count; a budget refits it)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--targets", default="0.83,0.90,0.94")
    parser.add_argument("--compare", default="study_cnn", help="second recipe ('' for none)")
    parser.add_argument("--compare-epochs", type=int, default=8)
    parser.add_argument("--compare-seeds", default="0")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a config field of the recipe under test, e.g. --set lookahead=false (repeatable)",
    )
    args = parser.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    data = load_cifar(args.data)
    overrides = {k: v for k, v in (("budget_minutes", args.budget_minutes), ("epochs", args.epochs)) if v is not None}
    for item in args.set:
        field, _, value = item.partition("=")
        overrides[field] = json.loads(value)
    report = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, device {resolve_device(args.device)}"
        + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ""),
        "torch": torch.__version__,
        "split": "45,000 train / 5,000 val (stratified, val_fraction 0.1)",
        "recipes": {},
    }
    plan = [(args.recipe, [int(s) for s in args.seeds.split(",")], overrides)]
    if args.compare:
        plan.append((args.compare, [int(s) for s in args.compare_seeds.split(",")], {"epochs": args.compare_epochs}))
    for recipe, seeds, recipe_overrides in plan:
        runs = [run_once(recipe, data, seed, targets, args.device, recipe_overrides) for seed in seeds]
        report["recipes"][recipe] = {"overrides": recipe_overrides, "runs": runs, "summary": summarise(runs, targets)}
        print(json.dumps({recipe: report["recipes"][recipe]["summary"]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
