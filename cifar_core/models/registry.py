"""Models by name, so configs, the CLI and the app refer to them with one string."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from cifar_core.errors import ConfigError
from cifar_core.models.fast_cnn import build_fast_cnn
from cifar_core.models.mobilenet import build_mobilenet_v3_large
from cifar_core.models.simple_cnn import build_simple_cnn


@dataclass(frozen=True)
class ModelSpec:
    """A trainable model: its builder, the options it accepts and a one-line description."""

    name: str
    build: Callable[..., nn.Module]
    description: str
    options: tuple[str, ...] = ()


MODEL_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "simple_cnn",
            build_simple_cnn,
            "The study's 8-conv CNN (16/32/64/128), trained from scratch; 361k parameters.",
        ),
        ModelSpec(
            "mobilenet_v3_large",
            build_mobilenet_v3_large,
            "ImageNet-pretrained MobileNetV3-Large, images resized up, new 960-256-10 head; 3.2M parameters.",
            ("pretrained", "weights_path", "resolution", "freeze_backbone"),
        ),
        ModelSpec(
            "fast_cnn",
            build_fast_cnn,
            "Speed-record style net: frozen whitening layer, 3 BN-GELU conv groups, max-pool head.",
            ("widths", "dirac_init", "train_bn_scale", "whiten_bias_epochs"),
        ),
    )
}


def register_model(spec: ModelSpec) -> None:
    """Add a model to the registry (later models plug in by name)."""
    MODEL_REGISTRY[spec.name] = spec


def check_model_options(name: str, options: Any) -> ModelSpec:
    """The registered spec of ``name``; ``ConfigError`` for an unknown model or option name.

    ``TrainConfig`` calls this on construction, so a typo is refused before a run is created, not
    when its worker builds the model.
    """
    if name not in MODEL_REGISTRY:
        raise ConfigError(f"Unknown model {name!r}; choose one of {', '.join(MODEL_REGISTRY)}.")
    spec = MODEL_REGISTRY[name]
    if not isinstance(options, dict):
        raise ConfigError(f"model_options must be a mapping; got {options!r}.")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ConfigError(f"Model {name!r} does not take option(s) {', '.join(unknown)}; allowed: {allowed}.")
    return spec


def build_model(name: str, *, dropout: float, num_classes: int = 10, options: dict[str, Any] | None = None) -> nn.Module:
    """Build a registered model; unknown names or options raise ``ConfigError``."""
    options = dict(options or {})
    return check_model_options(name, options).build(dropout=dropout, num_classes=num_classes, **options)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those that train)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
