"""Lookahead weight averaging, as the CIFAR-10 speed-record recipes use it.

A slow copy of the weights (and BatchNorm statistics) trails the trained ones. Every
``EVERY_STEPS`` optimizer steps the slow copy moves part of the way towards the trained weights
and the trained weights are then reset onto it. That averages out the noise of the last steps,
which matters most when a short run ends at a still-large learning rate. How much the slow copy
holds back grows with training progress (cubically, to 0.95**5 at the end), so early training
is left almost untouched; at the end the trained weights are replaced by the slow ones.
"""

from __future__ import annotations

import torch
from torch import nn

EVERY_STEPS = 5
FINAL_DECAY = 0.95**EVERY_STEPS


class Lookahead:
    """Slow weights of ``model``; ``step`` is called after every optimizer step."""

    def __init__(self, model: nn.Module, state: dict[str, torch.Tensor] | None = None):
        self.model = model
        current = model.state_dict()
        self.slow = {name: value.detach().clone() for name, value in current.items() if value.is_floating_point()}
        if state is not None:
            for name, value in state.items():
                self.slow[name].copy_(value)

    @staticmethod
    def decay(progress: float) -> float:
        """Share of the slow weights kept at an update, ``progress`` in [0, 1] of all steps."""
        return FINAL_DECAY * min(max(progress, 0.0), 1.0) ** 3

    @torch.no_grad()
    def step(self, global_step: int, total_steps: int) -> None:
        if global_step % EVERY_STEPS == 0:
            self.sync(self.decay(global_step / max(1, total_steps)))

    @torch.no_grad()
    def sync(self, decay: float) -> None:
        """slow <- decay * slow + (1 - decay) * trained; trained <- slow (``decay=1``: just reset)."""
        current = self.model.state_dict()
        for name, slow in self.slow.items():
            slow.lerp_(current[name], 1 - decay)
            current[name].copy_(slow)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.slow
