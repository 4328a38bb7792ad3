"""Muon one filter at a time against Muon batched over same-shape filters, timed, as JSON.

On an H100 the one-at-a-time form cost 1.4-1.9 s of a 3.8 s airbench_gpu run; the
batched form runs one Newton-Schulz iteration per shape (for airbench_gpu's six filters, four
stacks), so a GPU launches a third fewer products. This times both on the conv filters of
airbench_gpu's model (or of ``--widths``): the whole optimiser step and the orthogonalisation
alone, after warm-up, median of ``--repeats`` with the two taking turns, and checks that both gave
the same weights. On a CPU the arithmetic dominates at full size, so expect the gain there only
at small widths or on a GPU.

    python bench/muon_speed.py [--widths 64 256 256] [--repeats 20] [--device cpu] [--out docs/bench/muon_speed_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from cifar_core.models import build_model
from cifar_core.train.optim import Muon, muon_parameters, orthogonalise
from cifar_core.train.presets import get_preset


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(pair: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, after ``warmup`` untimed calls, the two interleaved.

    Taking turns (and swapping who goes first) puts both under the same load on a shared machine.
    """
    for fn in pair.values():
        for _ in range(warmup):
            fn()
    sync(device)
    seconds: dict[str, list[float]] = {name: [] for name in pair}
    for repeat in range(repeats):
        for name in list(pair)[:: 1 if repeat % 2 == 0 else -1]:
            start = time.perf_counter()
            pair[name]()
            sync(device)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def ms(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(seconds) * 1000, 3), "best_ms": round(min(seconds) * 1000, 3)}


def filters(widths: list[int] | None, device: torch.device) -> list[torch.nn.Parameter]:
    """The conv filters airbench_gpu's recipe hands to Muon, with fixed random gradients."""
    config = get_preset("airbench_gpu").config()
    if widths:
        config = config.replace(model_options={**config.model_options, "widths": widths})
    torch.manual_seed(0)  # both forms start from the same weights
    model = build_model(config.model, dropout=config.dropout, options=config.model_options).to(device)
    params = muon_parameters(config, model)
    generator = torch.Generator().manual_seed(0)
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator).to(device)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs=3, help="fast_cnn widths (default: airbench_gpu's 64 256 256)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    report: dict[str, object] = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "repeats": args.repeats,
    }
    optimisers, params = {}, {}
    for name, batched in (("per_parameter", False), ("batched", True)):
        params[name] = filters(args.widths, device)
        optimisers[name] = Muon(params[name], lr=0.24, momentum=0.6, batched=batched)
    steps = timed({name: muon.step for name, muon in optimisers.items()}, device, args.warmup, args.repeats)
    matrices = [p.grad.reshape(len(p), -1) for p in params["batched"]]
    shapes: dict[tuple[int, int], list[torch.Tensor]] = {}
    for matrix in matrices:
        shapes.setdefault(tuple(matrix.shape), []).append(matrix)
    stacks = [torch.stack(same) if len(same) > 1 else same[0] for same in shapes.values()]  # as Muon does
    alone = timed(
        {"per_matrix": lambda: [orthogonalise(m) for m in matrices], "stacked": lambda: [orthogonalise(s) for s in stacks]},
        device,
        args.warmup,
        args.repeats,
    )
    report["filter_shapes"] = ["x".join(map(str, matrix.shape)) for matrix in matrices]
    report["stacks"] = ["x".join(map(str, stack.shape)) for stack in stacks]
    report["step"] = {name: ms(seconds) for name, seconds in steps.items()}
    report["orthogonalise"] = {name: ms(seconds) for name, seconds in alone.items()}
    report["step_speedup"] = round(statistics.median(steps["per_parameter"]) / statistics.median(steps["batched"]), 2)
    report["orthogonalise_speedup"] = round(statistics.median(alone["per_matrix"]) / statistics.median(alone["stacked"]), 2)
    report["same_weights"] = all(
        torch.allclose(a, b) for a, b in zip(params["per_parameter"], params["batched"], strict=True)
    )  # both ran the same steps from the same start
    report["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
