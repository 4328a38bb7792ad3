"""Batched, per-image-random data augmentation for CIFAR-style image batches.

- ``config``: the plain, validated ``AugmentConfig`` trainer, CLI and app share.
- ``pipeline``: ``AugmentPipeline`` applies it to a batch and returns images, soft labels and
  (optionally) a record of exactly what each image got.
- ``spec`` / ``ops``: one ``OpSpec`` per op (one file each in ``ops/``): parameters, sampler,
  batched apply, captions and widgets; everything else loops over ``ops.REGISTRY``.
- ``functional`` / ``mix``: pure batched ops taking already-sampled parameters.
- ``sampling``: the per-image parameter samplers, driven by an explicit ``torch.Generator``.
- ``preview``: renders originals above their augmented versions for inspection.

The config and the registry import without torch (a run's config.json is checked by ``runs list``,
which must start at once); the pipeline, which needs torch, is imported on first use.
"""

from typing import TYPE_CHECKING

from cifar_core.augment.config import MIX_OPS, OP_NAMES, STANDARD_OPS, AugmentConfig, OpConfig

if TYPE_CHECKING:
    from cifar_core.augment.pipeline import AugmentPipeline, AugmentResult

__all__ = [
    "MIX_OPS",
    "OP_NAMES",
    "STANDARD_OPS",
    "AugmentConfig",
    "AugmentPipeline",
    "AugmentResult",
    "OpConfig",
]


def __getattr__(name: str) -> object:
    """``AugmentPipeline`` and ``AugmentResult`` from ``pipeline``, imported (with torch) when first asked for."""
    if name in ("AugmentPipeline", "AugmentResult"):
        from cifar_core.augment import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
