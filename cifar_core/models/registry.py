"""Models by name, so configs, the CLI and the app refer to them with one string.

The registry imports without torch: ``TrainConfig`` checks a model's name and options against it
when a run's config.json is read (``runs list``), and each builder imports its module (and torch)
only when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cifar_core.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class _Builder:
    """``module.function``, imported on the first call (a plain picklable callable, like the builder function it stands for)."""

    module: str
    function: str

    def __call__(self, **options: Any) -> nn.Module:
        return getattr(importlib.import_module(self.module), self.function)(**options)


@dataclass(frozen=True)
class ExplainLayers:
    """Where the explain tools look inside a model, as ``nn.Module.get_submodule`` paths.

    ``target``: the layer Grad-CAM weighs (the last convolutional block, where class evidence still
    has a position); ``features``: the penultimate output the embedding map and its neighbours use;
    ``stages``: (path, what that stage sees) for the feature-map view, input to output;
    ``first_conv``: the convolution whose filters are drawn as colour patches.
    """

    target: str
    features: str
    stages: tuple[tuple[str, str], ...] = ()
    first_conv: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A trainable model: its builder, the options it accepts, a description (in plain words first, then the details), and where
    the explain tools look inside it (``None``: saliency and embedding maps are not offered)."""

    name: str
    build: Callable[..., nn.Module]
    description: str
    options: tuple[str, ...] = ()
    explain: ExplainLayers | None = None


MODEL_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "simple_cnn",
            _Builder("cifar_core.models.simple_cnn", "build_simple_cnn"),
            "A plain network of 8 convolution layers that learns everything from CIFAR-10 alone. "
            "The study's 8-conv CNN (16/32/64/128), trained from scratch; 361k parameters.",
            explain=ExplainLayers(
                # stage 3's output (8x8, before its pool): 4x4 maps from stage 4 are too coarse to
                # move with a few-pixel shift, and stage 3 already sees 32x32-pixel patches
                target="26",
                features="39",  # the 128 ReLU units before the last linear layer
                stages=(
                    ("8", "Stage 1, 32×32: each unit sees a 5×5 patch: edges, colour contrasts, blobs."),
                    ("17", "Stage 2, 16×16: 14×14 patches: textures, corners, simple curves."),
                    ("26", "Stage 3, 8×8: 32×32 patches: parts and textures combined into shapes."),
                    ("35", "Stage 4, 4×4: the whole image: class evidence with a coarse position."),
                ),
                first_conv="1",
            ),
        ),
        ModelSpec(
            "mobilenet_v3_large",
            _Builder("cifar_core.models.mobilenet", "build_mobilenet_v3_large"),
            "A larger network that already learned to see on 1.2 million ImageNet photos; only its last layers are "
            "replaced for the 10 CIFAR classes. ImageNet-pretrained MobileNetV3-Large, images resized up, "
            "new 960-256-10 head; 3.2M parameters.",
            ("pretrained", "weights_path", "resolution", "freeze_backbone"),
            explain=ExplainLayers(target="1.features.16", features="1.classifier.1", first_conv="1.features.0.0"),
        ),
        ModelSpec(
            "fast_cnn",
            _Builder("cifar_core.models.fast_cnn", "build_fast_cnn"),
            "A small fast network whose first layer is fixed from the training images' statistics instead of learned, "
            "so it reaches good accuracy in few epochs. "
            "Speed-record style net: frozen whitening layer, 3 BN-GELU conv groups, max-pool head.",
            ("widths", "dirac_init", "train_bn_scale", "whiten_bias_epochs"),
            explain=ExplainLayers(
                target="groups.1",  # 7x7; the last group's 3x3 maps cannot show where
                features="dropout",  # the max-pooled vector the head reads
                stages=(
                    ("whiten", "Whitening, 31×31: fixed 2×2 filters that decorrelate neighbouring pixels."),
                    ("groups.0", "Group 1, 15×15: edges and colour contrasts."),
                    ("groups.1", "Group 2, 7×7: textures and parts."),
                    ("groups.2", "Group 3, 3×3: class evidence; the head takes each channel's maximum."),
                ),
                first_conv="whiten",
            ),
        ),
    )
}


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


def explain_layers(name: str) -> ExplainLayers:
    """Where the explain tools look inside model ``name``; ``ConfigError`` where none is registered."""
    spec = MODEL_REGISTRY.get(name)
    if spec is None or spec.explain is None:
        raise ConfigError(f"Model {name!r} has no registered layer to explain, so saliency and embedding maps are not available for it.")
    return spec.explain


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those that train)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
