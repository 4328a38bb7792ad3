"""One training step, and the probe that times it: the engine, the study estimate and the bench
all train through ``train_step``, so a precision or memory-layout choice is made once.

``StepSettings`` is what a config decides about how a step computes (device, precision, memory
layout, label smoothing); ``measure_images_per_s`` times real steps with those settings, so an
``--precision fp32`` study is estimated on the fp32 path it will run on.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cifar_core.augment import AugmentPipeline, AugmentResult
from cifar_core.device import autocast, memory_format, resolve_device
from cifar_core.models import MODEL_REGISTRY, build_model
from cifar_core.models.inference import to_model_input
from cifar_core.train.config import TrainConfig
from cifar_core.train.optim import make_optimizer

# Images used to initialise data-dependent layers (e.g. fast_cnn's whitening filters).
INIT_SAMPLE = 5000


@dataclass(frozen=True)
class StepSettings:
    """How a training step computes, as ``config`` decides it on this machine."""

    device: torch.device
    precision: str
    memory_format: torch.memory_format
    label_smoothing: float = 0.0

    @classmethod
    def of(cls, config: TrainConfig) -> StepSettings:
        device = resolve_device(config.device)
        return cls(device, config.precision, memory_format(device), config.label_smoothing)

    def replace(self, **changes) -> StepSettings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class StepOutput:
    loss: torch.Tensor
    logits: torch.Tensor
    soft_labels: torch.Tensor


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy against probability targets, so CutMix/MixUp's mixed labels train correctly."""
    if label_smoothing:
        targets = targets * (1 - label_smoothing) + label_smoothing / targets.shape[1]
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def build_training_model(config: TrainConfig, num_classes: int, settings: StepSettings, *, pretrained: bool = True) -> nn.Module:
    """``config``'s model on the step's device and memory layout; ``pretrained=False`` skips
    downloading or reading weights where only speed matters."""
    options = dict(config.model_options)
    if not pretrained and "pretrained" in MODEL_REGISTRY[config.model].options:
        options["pretrained"] = False
    model = build_model(config.model, dropout=config.dropout, num_classes=num_classes, options=options)
    return model.to(settings.device, memory_format=settings.memory_format)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, augmented: AugmentResult, settings: StepSettings) -> StepOutput:
    """One forward, backward and optimiser update on an augmented batch (``train/batches.py``
    augments batch by batch or a whole epoch at once)."""
    x = to_model_input(augmented.images, settings.device).contiguous(memory_format=settings.memory_format)
    with autocast(settings.device, settings.precision):
        logits = model(x)
    loss = soft_cross_entropy(logits, augmented.soft_labels, settings.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return StepOutput(loss, logits, augmented.soft_labels)


def measure_images_per_s(
    config: TrainConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    warmup: int = 1,
    settings: StepSettings | None = None,
    num_classes: int = 10,
) -> float:
    """Training images per second of ``config`` (model, augmentation, optimiser, precision, layout).

    Runs ``warmup`` untimed steps (allocator, kernel selection) and then ``steps`` timed ones on
    batches drawn from ``images``; the median step counts, so a burst of other work on the machine
    does not decide the figure. ``settings`` overrides the config's (the bench's "before" layout).
    """
    settings = settings or StepSettings.of(config)
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):  # seeded weights, without resetting the caller's random stream
        torch.manual_seed(0)
        model = build_training_model(config, num_classes, settings, pretrained=False).train()
    images, labels = images.to(settings.device), labels.to(settings.device)
    if hasattr(model, "init_from_data"):
        model.init_from_data(to_model_input(images[:INIT_SAMPLE], settings.device))
    optimizer = make_optimizer(config, model)
    pipeline = AugmentPipeline(config.augment_config(), num_classes=num_classes)
    durations = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        index = torch.randint(len(labels), (config.batch_size,), generator=generator).to(settings.device)
        train_step(model, optimizer, pipeline(images[index], labels[index], generator), settings)
        if settings.device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            durations.append(time.perf_counter() - start)
    return config.batch_size / statistics.median(durations)
