"""Batched, per-image-random data augmentation for CIFAR-style image batches.

- ``config``: the plain, validated ``AugmentConfig`` trainer, CLI and app share.
- ``pipeline``: ``AugmentPipeline`` applies it to a batch and returns images, soft labels and
  (optionally) a record of exactly what each image got.
- ``spec`` / ``ops``: one ``OpSpec`` per op (one file each in ``ops/``): parameters, sampler,
  batched apply, captions and widgets; everything else loops over ``ops.REGISTRY``.
- ``functional`` / ``mix``: pure batched ops taking already-sampled parameters.
- ``sampling``: the per-image parameter samplers, driven by an explicit ``torch.Generator``.
- ``preview``: renders originals above their augmented versions for inspection.
"""

from cifar_core.augment.config import MIX_OPS, OP_NAMES, STANDARD_OPS, AugmentConfig, OpConfig
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
