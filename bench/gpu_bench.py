"""One section of the GPU measurement; bench/gpu.sh runs them all.

Each section runs in its own process (gpu.sh gives it a timeout) and appends JSON lines as it
goes: every training run to ``runs.jsonl``, its own summary to ``sections.jsonl``, so a killed
section still leaves what it finished; ``gpu_summary.py`` makes one JSON object of those files.

Split: the shared 50,000 training images, a fixed stratified 45,000/5,000 train/validation split
(split seed 0) for the fast recipes, the study's 80/20 split for ``study_cnn``. Times are
``train()`` wall clock (set-up, training, validation; the data already decoded), measured after
a CUDA synchronize; "warm" runs follow another run in the same process (kernels chosen and
loaded, as the records' own timers have it), the first run of a process is reported apart.
TTA = mirror + one-pixel shifts (``flip_shift``), scored after training and timed apart.

``record`` runs the public speed records (KellerJordan/cifar10-airbench, unmodified but for their
trial count, from ``shared/peers/airbench``) on the same card and the same 45,000/5,000 split as
airbench_gpu, in the same call, and judges the goal by the ratio of the two times.

  python bench/gpu_bench.py SECTION --data PATH --out DIR [--smoke] [--seconds LIMIT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
from time_to_accuracy import run_once, split_config  # noqa: E402

from cifar_core.augment import AugmentPipeline  # noqa: E402
from cifar_core.data import load_cifar  # noqa: E402
from cifar_core.device import autocast  # noqa: E402
from cifar_core.evaluate import split_images  # noqa: E402
from cifar_core.models import build_model  # noqa: E402
from cifar_core.models.inference import to_model_input  # noqa: E402
from cifar_core.train import TrainConfig, train  # noqa: E402
from cifar_core.train.presets import get_preset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# airbench_gpu's goal: the records' accuracy on our split (airbench94 scored 90.43-90.64% TTA on
# these JPEGs) in no more time than the record takes on the same card in the same call
GOAL = {"val_tta": 0.906, "time_ratio": 1.0}
# the public record scripts: their trial count as published (lowered in our copy), and how long one
# may run (airbench94_muon compiles in max-autotune mode first, tens of seconds)
RECORDS = {
    "airbench94": {"script": "airbench94.py", "published_trials": 25, "timeout_s": 60},
    "airbench94_muon": {"script": "airbench94_muon.py", "published_trials": 200, "timeout_s": 240},
}
TIME_INCLUDES = {
    "record": "the script's own CUDA-event timer: whitening init, the training epochs and its TTA scoring of the 5,000 "
    "validation images; not loading the data onto the GPU, its per-epoch plain validation or compilation. time_s leaves "
    "out a script's first trial when it has no warm-up run of its own (airbench94: cuDNN autotuning lands there)",
    "ours": "train() wall clock after a CUDA synchronize (decoded uint8 images copied to the GPU, model built, whitening "
    "init, training, one plain validation at the end) plus the flip_shift TTA scoring of the 5,000 validation images, "
    "timed apart; warm process (a cold first run before it, reported apart)",
}
# each lever of the records switched off alone from airbench_gpu (fast_wide's: fast_wide_levers)
LEVERS_OFF = {
    "muon": {"muon_lr": None},
    "muon_batched": {"muon_batched": False},
    "alternating_flip": {"augment_params": {"translate": {"translate": [0.0625, 0.0625], "p": 1.0, "padding": "reflect"}}},
    "reflect_padding": {"augment_params": {"hflip": {"alternate": True}, "translate": {"translate": [0.0625, 0.0625], "p": 1.0}}},
    "whiten_bias_3_epochs": {"model_options": {"widths": [64, 256, 256], "dirac_init": True, "train_bn_scale": False}},
    "augment_per_epoch": {"augment_per_epoch": False},
    "val_and_checkpoint_at_end_only": {"val_every": 1, "checkpoint_every": 1, "log_every": 20},
}


class Bench:
    """Where a section writes, and the sizes it runs at (tiny CPU sizes with ``--smoke``)."""

    def __init__(self, args: argparse.Namespace):
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.smoke = args.smoke
        self.section = args.section
        self.device = "cpu" if args.smoke else "cuda"
        if not self.smoke and not torch.cuda.is_available():
            raise SystemExit("No CUDA GPU: run with --smoke for the CPU check.")
        # what is left of gpu.sh's limit for this section, less 15 s for the interpreter's start and the summary
        self.deadline = None if args.seconds is None else time.perf_counter() + args.seconds - 15
        self.record_trials = args.record_trials
        self.peers = args.peers
        self.data = load_cifar(args.data) if args.data else None

    def seconds_left(self, most: float) -> float:
        """At most ``most`` seconds, and no more than the section's limit leaves."""
        return most if self.deadline is None else max(0.0, min(most, self.deadline - time.perf_counter()))

    def seeds(self, n: int) -> list[int]:
        return list(range(1 if self.smoke else n))

    def shrink(self, recipe: str, overrides: dict) -> dict:
        """In smoke mode: 600 images, one epoch, narrow nets; else the overrides unchanged."""
        if not self.smoke:
            return overrides
        small = {"limit": 300, "epochs": 1}
        if get_preset(recipe).values.get("model") == "fast_cnn":
            options = {**get_preset(recipe).values["model_options"], **overrides.get("model_options", {}), "widths": [8, 16, 16]}
            small["model_options"] = options
        return {**overrides, **small}

    def write(self, name: str, record: dict) -> None:
        with open(self.out / name, "a") as handle:
            handle.write(json.dumps({"section": self.section, **record}) + "\n")

    def run(self, variant: str, recipe: str, seed: int, overrides: dict) -> dict | None:
        """One training run and its TTA score; a run that raises is recorded and skipped (None)."""
        try:
            result = run_once(recipe, self.data, seed, [0.90], self.device, self.shrink(recipe, overrides))
        except Exception as exc:  # one broken variant must not cost the section's other figures
            self.write("runs.jsonl", {"variant": variant, "recipe": recipe, "seed": seed, "error": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc()
            return None
        result.pop("curve", None)
        self.write("runs.jsonl", {"variant": variant, **result})
        return result

    def runs(self, variant: str, recipe: str, seeds: list[int], overrides: dict) -> dict[int, dict]:
        """Runs over ``seeds``, keyed by seed; failed ones left out."""
        done = {seed: self.run(variant, recipe, seed, overrides) for seed in seeds}
        return {seed: result for seed, result in done.items() if result is not None}

    def finish(self, summary: dict, started: float) -> None:
        seconds = round(time.perf_counter() - started, 1)
        self.write("sections.jsonl", {"status": "ok", "seconds": seconds, "summary": summary})
        print(json.dumps({"section": self.section, "status": "ok", "seconds": seconds}), flush=True)  # the summary: at the end


def attempt(measure, *args, **kwargs) -> dict:
    """A measurement's result, or the error it raised (printed to the log), so the next one runs."""
    try:
        return measure(*args, **kwargs)
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def mean_std(values: list[float], digits: int = 4) -> dict:
    if not values:
        return {"n": 0}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), digits), "std": round(std, digits), "n": len(values)}


def describe(runs: list[dict]) -> dict:
    if not runs:
        return {"error": "every run failed (runs.jsonl and log.txt say why)"}
    return {
        "val_tta": mean_std([r["final_val_acc_tta"] for r in runs]),
        "val_plain": mean_std([r["final_val_acc"] for r in runs]),
        "wall_s": mean_std([r["wall_s"] for r in runs], 3),
        "tta_s": mean_std([r["tta"]["flip_shift"]["seconds"] for r in runs], 3),
        "epochs": runs[0]["epochs"],
    }


def paired(runs: dict[int, dict], baseline: dict[int, dict]) -> dict:
    """Variant minus baseline at the same seed (same split and initial draw), mean and spread."""
    seeds = sorted(set(runs) & set(baseline))
    return {
        "delta_val_tta": mean_std([runs[s]["final_val_acc_tta"] - baseline[s]["final_val_acc_tta"] for s in seeds]),
        "delta_wall_s": mean_std([runs[s]["wall_s"] - baseline[s]["wall_s"] for s in seeds], 3),
    }


# --- sections ------------------------------------------------------------------------------------


def section_env(bench: Bench) -> dict:
    cuda = torch.cuda.is_available()
    return {
        "card": torch.cuda.get_device_name() if cuda else "none (CPU smoke run)",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "python": platform.python_version(),
        "train_images": None if bench.data is None else len(bench.data.splits["train"].labels),
    }


def _airbench_gpu(bench: Bench) -> dict:
    """airbench_gpu: one cold run (first in the process), then warm runs over 5 seeds; the warm
    runs' training plus TTA seconds are what the record section sets beside the records' times."""
    cold = None if bench.smoke else bench.run("cold_first_run", "airbench_gpu", 0, {})
    runs = list(bench.runs("warm", "airbench_gpu", bench.seeds(5), {}).values())
    summary = describe(runs)
    summary["cold_first_run_wall_s"] = cold and cold["wall_s"]
    if runs:
        summary["train_and_tta_s"] = mean_std([r["wall_s"] + r["tta"]["flip_shift"]["seconds"] for r in runs], 3)
    return summary


def peers_folder(given: str | None) -> Path:
    """The record scripts: ``given``, else ``shared/peers/airbench`` inside the repo (where a device
    copy puts it), else in the ``shared`` folder beside the repo."""
    names = [record["script"] for record in RECORDS.values()]
    candidates = [Path(given)] if given else [REPO / "shared" / "peers" / "airbench", REPO.parent / "shared" / "peers" / "airbench"]
    for folder in candidates:
        if all((folder / name).is_file() for name in names):
            return folder
    raise FileNotFoundError(f"No {' and '.join(names)} in {' or '.join(map(str, candidates))}; pass --peers DIR.")


def with_trials(script: Path, published: int, trials: int, folder: Path) -> Path:
    """A copy of ``script`` in ``folder`` that runs ``trials`` trials instead of its published count.

    Only the trial loop changes, and only when it reads as published: a changed script must be
    read again before it is measured, not run with whatever count it now has.
    """
    loop = f"for run in range({published})]"
    text = script.read_text()
    found = text.count(loop)
    if found != 1:
        raise ValueError(
            f"{script} should hold its trial loop `{loop}` once but holds it {found} times: "
            "the public script has changed, so read its main block again before measuring it."
        )
    copy = folder / script.name
    copy.write_text(text.replace(loop, f"for run in range({trials})]"))
    return copy


PARTS = (("train", "train.pt"), ("val", "test.pt"))  # our split's part, and the record's file for it


def export_split(config: TrainConfig, data, folder: Path) -> dict[str, int]:
    """``folder/cifar10/train.pt`` and ``test.pt`` as the records read them (uint8 NHWC RGB images,
    int64 labels, class names) from the run's own split: the records train on our training part
    and are scored on exactly our validation images."""
    target = folder / "cifar10"
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for part, name in PARTS:
        images, labels, _ = split_images(config, data, part)
        torch.save({"images": images.permute(0, 2, 3, 1).contiguous(), "labels": labels, "classes": list(data.classes)}, target / name)
        sizes[name] = len(labels)
    return sizes


def check_export(config: TrainConfig, data, folder: Path) -> dict:
    """Read both files back as the records will and hold them against the split: shapes, dtypes,
    label range, and the very images and labels of each part in order (a wrong file would score
    the record on other images than ours)."""
    found = {}
    for part, name in PARTS:
        saved = torch.load(folder / "cifar10" / name, weights_only=True)
        images, labels, _ = split_images(config, data, part)
        got, got_labels = saved["images"], saved["labels"]
        problem = None
        if got.dtype != torch.uint8 or got.dim() != 4 or tuple(got.shape[1:]) != (32, 32, 3):
            problem = f"its images are {got.dtype} {list(got.shape)}, not uint8 [N, 32, 32, 3]"
        elif got_labels.dtype != torch.int64 or got_labels.shape != (len(got),):
            problem = f"its labels are {got_labels.dtype} {list(got_labels.shape)}, not int64 [{len(got)}]"
        elif len(got) == 0 or not 0 <= int(got_labels.min()) <= int(got_labels.max()) < len(saved["classes"]):
            problem = f"its labels are not all in 0..{len(saved['classes']) - 1} (or it holds no images)"
        elif not (torch.equal(got, images.permute(0, 2, 3, 1)) and torch.equal(got_labels, labels)):
            problem = f"it does not hold the split's {part} images and labels in order"
        if problem:
            raise ValueError(f"{folder / 'cifar10' / name}: {problem}.")
        found[name] = {"images": list(got.shape), "labels": [int(got_labels.min()), int(got_labels.max())], f"equals_split_{part}": True}
    return found


def record_trials(stdout: str) -> tuple[list[dict], bool]:
    """The trials a record script finished, read off its printed table, and whether it ran a
    warm-up run of its own (left out: it compiles and trains on random labels).

    The table has a header row naming the columns; a run's number stands in its first row only,
    and its last row has epoch ``eval`` with the TTA accuracy and the seconds its timer summed.
    """
    header, run, warm_up, trials = None, None, False, []
    for line in stdout.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells if "tta_val_acc" in cells else None
            continue
        row = dict(zip(header, cells))
        run = row.get("run") or run
        warm_up = warm_up or run == "warmup"
        if row.get("epoch") == "eval" and run != "warmup":
            seconds = next(value for key, value in row.items() if key.endswith("time_seconds"))
            trials.append({"run": int(run), "val_tta": float(row["tta_val_acc"]), "seconds": float(seconds)})
    return trials, warm_up


def run_record(script: Path, timeout: float, log: Path) -> dict:
    """Run one record script where it lies (it reads ``cifar10/`` there); what its trials scored
    and took, also when it is stopped at ``timeout`` (its finished trials stand)."""
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # else a stopped script's finished trials die in its buffer
    with subprocess.Popen(
        [sys.executable, script.name], cwd=script.parent, env=unbuffered, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"exit status {proc.returncode}"
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            status = f"stopped after {timeout:.0f} s"
    log.write_text(stdout)
    print(f"== {script.name}: {status}\n{stderr[-3000:]}", file=sys.stderr)
    trials, warm_up = record_trials(stdout)
    # without a warm-up run of its own a script's first trial pays cuDNN autotuning and CUDA start-up
    timed = trials if warm_up else trials[1:]
    return {
        "status": status,
        "trials_run": len(trials),
        "val_tta": mean_std([t["val_tta"] for t in trials]),
        "time_s": mean_std([t["seconds"] for t in timed], 3),
        "time_s_every_trial": mean_std([t["seconds"] for t in trials], 3),
        "timed_trials": "all (after the script's own warm-up run)" if warm_up else "all but the first (the script has no warm-up run)",
        "per_trial": trials,
    }


def vs_record(ours: dict, records: dict[str, dict]) -> dict:
    """Ours beside each record measured in this call: both sides' seconds and TTA accuracy, the
    time ratio ours/record, and whether the goal (GOAL) is met against that record."""
    table: dict = {"goal": {"val_tta_at_least": GOAL["val_tta"], "time_ratio_at_most": GOAL["time_ratio"]}}
    for name, record in records.items():
        if not record.get("time_s", {}).get("n") or "train_and_tta_s" not in ours:
            table[name] = {"not_measured": record.get("skipped") or record.get("status") or "our runs failed"}
            continue
        ratio = ours["train_and_tta_s"]["mean"] / record["time_s"]["mean"]
        table[name] = {
            "ours_s": ours["train_and_tta_s"]["mean"],
            "record_s": record["time_s"]["mean"],
            "ratio_ours_to_record": round(ratio, 2),
            "ours_val_tta": ours["val_tta"]["mean"],
            "record_val_tta": record["val_tta"]["mean"],
            "goal_met": ours["val_tta"]["mean"] >= GOAL["val_tta"] and ratio <= GOAL["time_ratio"],
        }
    return table


def section_record(bench: Bench) -> dict:
    """The public speed records and airbench_gpu side by side: the same card, the same split
    (45,000 train / 5,000 validation, stratified, split seed 0), in one call. With --smoke the
    records' data is written at tiny size and checked, their copies made, and the records not run
    (they need CUDA)."""
    config = split_config("airbench_gpu", bench.data, 0, bench.device, bench.shrink("airbench_gpu", {}))
    peers = peers_folder(bench.peers)
    summary: dict = {"peers": str(peers), "time_includes": TIME_INCLUDES, "records": {}}
    with tempfile.TemporaryDirectory(prefix="airbench-record-") as work:
        folder = Path(work)
        sizes = export_split(config, bench.data, folder)
        summary["split"] = {
            "train": sizes["train.pt"],
            "val": sizes["test.pt"],
            "val_fraction": config.val_fraction,
            "split_seed": config.split_seed,
        }
        summary["export_check"] = check_export(config, bench.data, folder)
        copies = {name: with_trials(peers / r["script"], r["published_trials"], bench.record_trials, folder) for name, r in RECORDS.items()}
        bench.write("sections.jsonl", {"status": "partial", "summary": summary})
        summary["ours"] = _airbench_gpu(bench)
        bench.write("sections.jsonl", {"status": "partial", "summary": summary})
        for name, copy in copies.items():
            trials = {"trials_asked": bench.record_trials, "trials_published": RECORDS[name]["published_trials"]}
            if bench.smoke:
                summary["records"][name] = {"skipped": "needs a CUDA GPU (smoke run: data and trial-count copy checked only)", **trials}
                continue
            torch.cuda.empty_cache()  # our runs' cached blocks back to the card for the record's process
            timeout = bench.seconds_left(RECORDS[name]["timeout_s"])
            summary["records"][name] = {**trials, **run_record(copy, timeout, bench.out / f"record_{name}.txt")}
            summary["vs_record"] = vs_record(summary["ours"], summary["records"])
            bench.write("sections.jsonl", {"status": "partial", "summary": summary})
    summary["vs_record"] = vs_record(summary["ours"], summary["records"])
    return summary


def same_training(a: TrainConfig, b: TrainConfig) -> bool:
    """True when two configs train alike: every field equal, augmentation compared with each op's
    defaults filled in (``{"alternate": False}`` and no hflip parameters are the same flip)."""

    def settled(config: TrainConfig) -> dict:
        return {**config.to_dict(), "augment_params": [(op.name, op.p, op.resolved()) for op in config.augment_config().ops]}

    return settled(a) == settled(b)


def _ablation(bench: Bench, recipe: str, baseline_overrides: dict, levers: dict[str, dict]) -> dict:
    """The recipe over 3 seeds, then each lever changed alone over the same seeds (paired); a
    change the recipe already has is recorded as such and not run."""
    if not bench.smoke:  # kernels chosen and loaded before the timed runs
        bench.run("warm_up", recipe, 99, {**baseline_overrides, "epochs": 1})
    baseline = bench.runs("baseline", recipe, bench.seeds(3), baseline_overrides)
    summary = {"baseline": describe(list(baseline.values()))}
    base_config = get_preset(recipe).config(**baseline_overrides)
    for name, changes in levers.items():
        if same_training(get_preset(recipe).config(**{**baseline_overrides, **changes}), base_config):
            summary[name] = {"not_run": f"{recipe} already trains this way, so there is nothing to compare"}
            continue
        runs = bench.runs(name, recipe, bench.seeds(3), {**baseline_overrides, **changes})
        summary[name] = {**describe(list(runs.values())), **paired(runs, baseline)}
        bench.write("sections.jsonl", {"status": "partial", "summary": summary})
    return summary


def fast_wide_levers(values: dict) -> dict[str, dict]:
    """fast_wide's record levers (Muon, alternating flip, reflected shifts) each switched off alone,
    and the whitening bias trained for 3 epochs only switched on, built from the recipe's own
    ``values`` so that everything else stays as the recipe has it."""
    augment = values.get("augment_params", {})
    return {
        "muon_off": {"muon_lr": None},
        "alternating_flip_off": {"augment_params": {**augment, "hflip": {**augment.get("hflip", {}), "alternate": False}}},
        "reflect_padding_off": {"augment_params": {**augment, "translate": {**augment.get("translate", {}), "padding": "zeros"}}},
        "whiten_bias_3_epochs_on": {"model_options": {**values.get("model_options", {}), "whiten_bias_epochs": 3}},
    }


def section_ablation_fast_wide(bench: Bench) -> dict:
    """fast_wide 10 epochs and each of its record levers switched off alone (fast_wide_levers)."""
    return _ablation(bench, "fast_wide", {}, fast_wide_levers(get_preset("fast_wide").values))


def section_ablation_gpu(bench: Bench) -> dict:
    """airbench_gpu and each of its levers and speed paths switched off alone."""
    return _ablation(bench, "airbench_gpu", {}, LEVERS_OFF)


def section_preset_epochs(bench: Bench) -> dict:
    """airbench_gpu at other lengths, to read off the shortest that reaches the goal."""
    if not bench.smoke:
        bench.run("warm_up", "airbench_gpu", 99, {"epochs": 1})
    summary = {}
    for epochs in (8,) if bench.smoke else (8, 10, 12):
        summary[str(epochs)] = describe(list(bench.runs(f"epochs_{epochs}", "airbench_gpu", bench.seeds(3), {"epochs": epochs}).values()))
        bench.write("sections.jsonl", {"status": "partial", "summary": summary})
    return summary


def section_compile(bench: Bench) -> dict:
    """airbench_gpu with torch.compile: the first run pays the one-off compilation."""
    first = bench.run("compile_first_run", "airbench_gpu", 0, {"compile": True})
    bench.write("sections.jsonl", {"status": "partial", "summary": {"first_run_wall_s_with_compilation": first and first["wall_s"]}})
    warm = bench.runs("compile_warm", "airbench_gpu", bench.seeds(3), {"compile": True})
    return {"first_run_wall_s_with_compilation": first and first["wall_s"], "warm": describe(list(warm.values()))}


def _step_rate(
    bench: Bench, model: str, options: dict, batch: int, precision: str, channels_last: bool, steps: int, cudnn_benchmark: bool = False
) -> dict:
    """Images/s of forward + backward + Adam on one fixed, already augmented batch (no data work)."""
    device = torch.device(bench.device)
    torch.backends.cudnn.benchmark = cudnn_benchmark
    layout = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    net = build_model(model, dropout=0.2, options=options).to(device, memory_format=layout).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    split = bench.data.splits["train"]
    x = to_model_input(split.images[:batch], device).contiguous(memory_format=layout)
    targets = split.labels[:batch].to(device)
    warmup = 1 if bench.smoke else 3
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with autocast(device, precision):
            logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    rate = steps * batch / (time.perf_counter() - start)
    torch.backends.cudnn.benchmark = False
    return {
        "images_per_s": round(rate, 1),
        "seconds_per_40k_epoch": round(40_000 / rate, 2),
        "batch": batch,
        "precision": precision,
        "channels_last": channels_last,
        "cudnn_benchmark": cudnn_benchmark,
    }


def _augment_rate(bench: Bench, batch: int, steps: int) -> dict:
    """Images/s of the study's augmentation (p 0.06 / 0.03) batch by batch on the device."""
    device = torch.device(bench.device)
    pipeline = AugmentPipeline(TrainConfig().augment_config())
    split = bench.data.splits["train"]
    images, labels = split.images[:batch].to(device), split.labels[:batch].to(device)
    generator = torch.Generator().manual_seed(0)
    pipeline(images, labels, generator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        pipeline(images, labels, generator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"images_per_s": round(steps * batch / (time.perf_counter() - start), 1), "batch": batch}


def _engine_epoch(bench: Bench, precision: str, whole_epoch: bool) -> dict:
    """study_cnn through the engine, 80/20 split, two epochs: the second epoch's seconds."""
    sizes = {"limit": 600, "epochs": 1} if bench.smoke else {"epochs": 2}
    config = get_preset("study_cnn").config(
        data=bench.data.source,
        val_fraction=0.2,
        split_seed=0,
        device=bench.device,
        precision=precision,
        augment_per_epoch=whole_epoch,
        **sizes,
    )
    events: list[dict] = []
    train(config, bench.data, on_event=events.append)
    last = [e for e in events if e["type"] == "epoch"][-1]
    return {"train_s": round(last["epoch_s"], 3), "eval_s": round(last["eval_s"], 3), "images_per_s": round(last["images_per_s"], 1)}


def section_study_cnn_speed(bench: Bench) -> dict:
    """Why bf16 was slower than fp32 for the study CNN: the model step alone in each precision and
    layout, the augmentation alone, and the engine's epoch with per-batch or whole-epoch augmentation."""
    steps = 2 if bench.smoke else 60
    summary: dict = {"model_step_only": {}}
    for precision in ("fp32", "bf16"):
        for channels_last in (False, True):
            key = f"{precision}_{'channels_last' if channels_last else 'nchw'}"
            summary["model_step_only"][key] = attempt(_step_rate, bench, "simple_cnn", {}, 256, precision, channels_last, steps)
    summary["augment_only"] = attempt(_augment_rate, bench, 256, steps)
    summary["engine_epoch"] = {}
    for precision in ("fp32", "bf16"):
        for whole_epoch in (False, True):
            key = f"{precision}_{'whole_epoch_augment' if whole_epoch else 'per_batch_augment'}"
            summary["engine_epoch"][key] = attempt(_engine_epoch, bench, precision, whole_epoch)
            bench.write("sections.jsonl", {"status": "partial", "summary": summary})
    return summary


def section_mobilenet(bench: Bench) -> dict:
    """MobileNetV3-Large at 224 px (resized on the device inside the model): seconds per 40k-image epoch."""
    resolution, steps = (32, 1) if bench.smoke else (224, 20)
    options = {"pretrained": False, "resolution": resolution}
    variants = {
        "bf16_channels_last_b64": (64, "bf16", True, False),
        "fp32_channels_last_b64": (64, "fp32", True, False),
        "bf16_nchw_b64": (64, "bf16", False, False),
        "bf16_channels_last_b64_cudnn_benchmark": (64, "bf16", True, True),
        "bf16_channels_last_b256_cudnn_benchmark": (256, "bf16", True, True),
    }
    summary = {}
    for name, (batch, precision, channels_last, benchmark) in variants.items():
        batch = 4 if bench.smoke else batch
        summary[name] = attempt(_step_rate, bench, "mobilenet_v3_large", options, batch, precision, channels_last, steps, benchmark)
        bench.write("sections.jsonl", {"status": "partial", "summary": summary})
    return summary


def section_study_cnn_100(bench: Bench) -> dict:
    """The study's CNN and recipe for 100 epochs on the 80/20 split, whole-epoch augmentation."""
    overrides = {"epochs": 2, "limit": 600} if bench.smoke else {}
    config = get_preset("study_cnn").config(
        data=bench.data.source, val_fraction=0.2, split_seed=0, seed=0, device=bench.device, augment_per_epoch=True, **overrides
    )
    epochs: list[dict] = []
    start = time.perf_counter()

    def on_event(event: dict) -> None:  # a progress line every 10 epochs, in case the section is cut short
        if event["type"] == "epoch":
            epochs.append(event)
            if len(epochs) % 10 == 0:
                best = max(e["val_acc"] for e in epochs)
                progress = {"epochs_done": len(epochs), "wall_s_so_far": round(time.perf_counter() - start, 2), "best_val_acc_so_far": best}
                bench.write("sections.jsonl", {"status": "partial", "summary": progress})

    result = train(config, bench.data, on_event=on_event)
    wall = time.perf_counter() - start
    best = max(epochs, key=lambda e: e["val_acc"])
    return {
        "wall_s": round(wall, 2),
        "epochs": len(epochs),
        "best_val_acc": result.best_val_acc,
        "best_epoch": best["epoch"],
        "final_val_acc": epochs[-1]["val_acc"],
        "mean_train_s_per_epoch": round(statistics.fmean(e["epoch_s"] for e in epochs), 3),
        "mean_eval_s_per_epoch": round(statistics.fmean(e["eval_s"] for e in epochs), 3),
    }


SECTIONS = {
    "env": section_env,
    "record": section_record,
    "ablation_fast_wide": section_ablation_fast_wide,
    "preset_epochs": section_preset_epochs,
    "ablation_gpu": section_ablation_gpu,
    "study_cnn_speed": section_study_cnn_speed,
    "mobilenet": section_mobilenet,
    "study_cnn_100": section_study_cnn_100,
    "compile": section_compile,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("section", choices=list(SECTIONS))
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true", help="every section at tiny size on the CPU")
    parser.add_argument("--seconds", type=float, default=None, help="the section's time limit (gpu.sh's timeout for it)")
    parser.add_argument("--record-trials", type=int, default=5, help="trials of each record script (record section)")
    parser.add_argument("--peers", default=None, help="folder of the record scripts (default: shared/peers/airbench)")
    args = parser.parse_args()
    if args.record_trials < 1:
        parser.error(f"--record-trials must be at least 1, got {args.record_trials}.")
    started = time.perf_counter()
    bench = Bench(args)
    bench.finish(SECTIONS[args.section](bench), started)


if __name__ == "__main__":
    main()
