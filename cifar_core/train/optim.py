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


def parameter_groups(config: TrainConfig, model: nn.Module) -> list[dict[str, Any]]:
    """Trainable parameters, with BatchNorm shifts in their own group when ``bias_lr_scale`` != 1.

    The shifts get ``bias_lr_scale`` times the learning rate and the weight decay divided by it, so
    with SGD the decay they see per step (learning rate x weight decay) stays the same as everyone
    else's (Adam rescales the decay by its adaptive step, so there it only approximately does).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if config.bias_lr_scale == 1:
        return [{"params": params}]
    norm_biases = {
        id(m.bias) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.bias is not None and m.bias.requires_grad
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
    """Adam as in the study, or Nesterov SGD; only parameters that train are optimised."""
    groups = parameter_groups(config, model)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay)


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
    warmup = min(int(config.warmup_epochs * steps_per_epoch), int(WARMUP_MAX_SHARE * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total_steps - warmup)
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return max(0.0, 1.0 - progress)  # onecycle: linear decay to zero after the warm-up
