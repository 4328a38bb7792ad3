"""The optimiser and the learning-rate schedule of a run, built from its config.

One place for what the engine steps with: which parameters train and in which group, which
optimiser updates them, and the factor on the base learning rate at every step. New optimisers
are added in ``make_optimizer``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from cifar_core.train.config import TrainConfig

# The triangle schedule: start factor, where the peak lies (fraction of steps), end factor.
TRIANGLE_START, TRIANGLE_PEAK, TRIANGLE_END = 0.2, 0.23, 0.07
# The warm-up never takes more than this share of the run's planned steps.
WARMUP_MAX_SHARE = 0.25


# Newton-Schulz iterations per Muon step (the records use 3) and the quintic's coefficients.
MUON_NS_STEPS = 3
MUON_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalise(matrix: torch.Tensor, steps: int = MUON_NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """Approximately ``U V^T`` of ``matrix = U S V^T`` (singular values pushed towards 1), in bf16.

    Keller Jordan's quintic Newton-Schulz iteration, the same as ``torch.optim.Muon``'s (a test
    compares them); it needs only matrix products, so it is cheap on a GPU. ``matrix`` may be one
    matrix or a stack ``[count, rows, cols]`` of same-shape ones, each normalised and transposed
    (when tall) on its own: a stack runs the iteration once for all of them with batched products,
    so a GPU launches 3 products per step for the stack instead of 3 per matrix (on CPU the result
    is bit for bit the one-at-a-time one; a test checks).
    """
    a, b, c = MUON_NS_COEFFICIENTS
    x = matrix.bfloat16()
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    fused = torch.addmm if x.ndim == 2 else torch.baddbmm
    for _ in range(steps):  # x <- a x + (b G + c G^2) x with G = x x^T, in three fused products (few launches)
        gram = x @ x.mT
        x = fused(x, fused(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for convolution filters, as the speed records use it (airbench94_muon).

    Per step: Nesterov momentum on the gradient, then the update orthogonalised with each filter
    bank flattened to ``[out_channels, in_channels * k * k]``, and the weights first rescaled to a
    fixed norm (sqrt(out_channels)): every conv here feeds a BatchNorm, so the weight's scale is
    irrelevant to the output and fixing it keeps the effective step size constant.

    With ``batched`` (the default) the filters of one group that flatten to the same shape are
    orthogonalised as one stack: on an H100 the one-filter-at-a-time form cost 1.4-1.9 s of a
    3.8 s airbench_gpu run, where its products are too small to fill the card and each one is a
    kernel launch. ``batched=False`` keeps that form, to measure the lever (``bench/muon_speed.py``,
    and the GPU ablation); the two give the same update.

    Why not ``torch.optim.Muon``: it refuses parameters that are not 2-D (torch 2.9 to 2.14 all
    raise for 4-D conv filters) and has no weight rescaling; its orthogonalisation is the same.
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.6, nesterov: bool = True, batched: bool = True):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})
        self.batched = batched

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            stacks: dict[tuple, list[tuple[nn.Parameter, torch.Tensor]]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buffer = state["momentum_buffer"]
                buffer.mul_(group["momentum"]).add_(p.grad)
                grad = p.grad.add(buffer, alpha=group["momentum"]) if group["nesterov"] else buffer
                p.mul_(len(p) ** 0.5 / p.norm().clamp(min=1e-12))
                key = (len(p), p[0].numel(), p.dtype, p.device) if self.batched else (id(p),)
                stacks.setdefault(key, []).append((p, grad.reshape(len(grad), -1)))
            for stack in stacks.values():
                if len(stack) == 1:  # a lone matrix skips the copy into a stack
                    updates = [orthogonalise(stack[0][1])]
                else:
                    updates = orthogonalise(torch.stack([matrix for _, matrix in stack])).unbind()
                for (p, _), update in zip(stack, updates, strict=True):
                    p.add_(update.view(p.shape).to(p.dtype), alpha=-group["lr"])


class CombinedOptimizer(torch.optim.Optimizer):
    """Several optimisers over disjoint parameters, stepped as one.

    Its ``param_groups`` are the parts' own group dicts, so an LR scheduler set on it moves every
    part's learning rate; checkpoints hold each part's state.
    """

    def __init__(self, parts: list[torch.optim.Optimizer]):
        self.parts = parts
        super().__init__([group for part in parts for group in part.param_groups], {})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for part in self.parts:
            part.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [part.state_dict() for part in self.parts]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for part, state in zip(self.parts, state_dict["parts"], strict=True):
            part.load_state_dict(state)


def muon_parameters(config: TrainConfig, model: nn.Module) -> list[nn.Parameter]:
    """The trainable conv filters (4-D weights) when ``config.muon_lr`` is set, else none."""
    if config.muon_lr is None:
        return []
    return [p for p in model.parameters() if p.requires_grad and p.ndim == 4]


def parameter_groups(config: TrainConfig, model: nn.Module, exclude: list[nn.Parameter] = ()) -> list[dict[str, Any]]:
    """Trainable parameters, with BatchNorm shifts in their own group when ``bias_lr_scale`` != 1.

    The shifts get ``bias_lr_scale`` times the learning rate and the weight decay divided by it, so
    with SGD the decay they see per step (learning rate x weight decay) stays the same as everyone
    else's (Adam rescales the decay by its adaptive step, so there it only approximately does).
    Parameters in ``exclude`` (those another optimiser trains) are left out.
    """
    excluded = {id(p) for p in exclude}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in excluded]
    if config.bias_lr_scale == 1:
        return [{"params": params}]
    norm_biases = {
        id(m.bias)
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.bias is not None and m.bias.requires_grad
    }
    return [
        {"params": [p for p in params if id(p) not in norm_biases]},
        {
            "params": [p for p in params if id(p) in norm_biases],
            "lr": config.lr * config.bias_lr_scale,
            "weight_decay": config.weight_decay / config.bias_lr_scale,
        },
    ]


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam as in the study, or Nesterov SGD; only parameters that train are optimised.

    With ``muon_lr`` set, the conv filters go to ``Muon`` instead and both step as one optimiser.
    """
    filters = muon_parameters(config, model)
    groups = parameter_groups(config, model, exclude=filters)
    if config.optimizer == "adam":
        base = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    else:
        base = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay)
    if not filters:
        return base
    return CombinedOptimizer([base, Muon(filters, lr=config.muon_lr, momentum=config.muon_momentum, batched=config.muon_batched)])


def lr_factor(config: TrainConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at ``step`` (linear warm-up, then the schedule).

    ``triangle`` is the speed records' schedule and scales with the run: from 0.2 up to 1 over the
    first 23% of steps, then down to 0.07 at the end (lookahead averages over the last steps).
    """
    if config.schedule == "triangle":
        peak = TRIANGLE_PEAK * total_steps
        if step < peak:
            return TRIANGLE_START + (1 - TRIANGLE_START) * step / peak
        return 1 - (1 - TRIANGLE_END) * min(1.0, (step - peak) / max(1.0, total_steps - peak))
    # a short budget must not end inside the warm-up: a 1-minute fast run (a few dozen steps of a
    # 79-step warm-up) ended at 40% of the peak rate without ever decaying
    # a budget that buys more than the recipe's epochs stretches the warm-up with the rest of the
    # schedule, so it keeps its share of the run (budget_stretch)
    stretch = max(1.0, total_steps / (config.epochs * steps_per_epoch)) if config.budget_stretch else 1.0
    warmup = min(int(config.warmup_epochs * stretch * steps_per_epoch), int(WARMUP_MAX_SHARE * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total_steps - warmup)
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return max(0.0, 1.0 - progress)  # onecycle: linear decay to zero after the warm-up
