"""The augmentation pipeline: per-image apply-or-not, batched ops, soft labels and records.

For each op every image draws its own apply-or-not; only the applied subset is gathered
(``index_select``), transformed and written back (``index_copy``), so images that skip an op stay
bit-exact and the cost scales with how many images the op actually touches. Standard ops run in
config order, then mix ops in config order. A mix partner is always an un-augmented image (of
the batch as given, or of a pool such as the whole training set): a partner shifted or rotated
first would paste its black fill while the label credits the partner's class for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cifar_core.augment.config import AugmentConfig
from cifar_core.augment.mix import one_hot
from cifar_core.augment.ops import REGISTRY
from cifar_core.augment.sampling import sample_apply_mask, sample_partners
from cifar_core.augment.spec import Describe, Partners
from cifar_core.errors import ConfigError


@dataclass
class AugmentResult:
    """Augmented images (input dtype and device) and float32 soft labels ``[B, num_classes]``.

    ``records`` (only when asked for) holds one JSON-friendly dict per image::

        {"index": i,
         "ops": [{"op": "rotation", "angle": 90},
                 {"op": "resized_crop", "box": Box(top, left, bottom, right)},
                 {"op": "translate", "shift": [dx, dy]},
                 {"op": "hflip"},
                 {"op": "cutout", "box": Box(top, left, bottom, right)},
                 {"op": "cutmix", "box": Box(top, left, bottom, right), "partner": j, "source": "batch", "weight": w},
                 {"op": "mixup", "partner": j, "source": "pool", "weight": w}],
         "label_weights": {class_index: weight, ...}}   # non-zero weights, largest first

    Every box is a ``box.Box``: half-open, named fields, a JSON list ``[top, left, bottom, right]``
    (resized_crop's is the region cropped, cutout's the region blacked out, cutmix's the region
    pasted from the partner). ``weight`` is the partner's share of the label. ``partner`` indexes the
    batch (``source="batch"``) or the pool passed to the call (``source="pool"``).
    """

    images: Tensor
    soft_labels: Tensor
    records: list[dict[str, Any]] | None = None


class AugmentPipeline:
    """Apply an ``AugmentConfig`` to whole batches with an explicit generator.

    The config is validated and resolved once here; later edits to it are not seen. The same
    generator state gives the same output, whatever device the images are on, as long as the
    generator itself is the same (a CPU generator is fine for CUDA images).
    """

    def __init__(self, config: AugmentConfig, num_classes: int = 10) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes must be a positive whole number, got {num_classes!r}.")
        self.config = config
        self.num_classes = num_classes
        steps = [(REGISTRY[op.name], float(op.p), op.resolved()) for op in config.ops]
        self._standard = [step for step in steps if step[0].kind == "standard"]
        self._mix = [step for step in steps if step[0].kind == "mix"]

    def __call__(
        self,
        images: Tensor,
        labels: Tensor,
        generator: torch.Generator,
        *,
        record: bool = False,
        pool: tuple[Tensor, Tensor] | None = None,
        indices: Tensor | None = None,
        epoch: int = 0,
        flip_seed: int | None = None,
    ) -> AugmentResult:
        """Augment ``images`` ``[B, C, H, W]`` with integer ``labels`` ``[B]``; inputs are not modified.

        ``indices`` (each image's position in the training set, default ``0..B-1``), ``epoch`` and
        ``flip_seed`` (default: ``generator``'s seed) matter only to an alternating flip, which
        mirrors an image on every other epoch. Under torchrun each rank augments with a generator
        of its own, so the engine passes the run's seed: which half of the images is mirrored in
        an epoch must not depend on the rank an image lands on.
        """
        _check_batch(images, labels)
        if pool is not None:
            _check_pool(pool, images)
        count = len(images)
        soft = one_hot_labels = one_hot(labels, self.num_classes).to(images.device)
        entries: list[list[dict[str, Any]]] | None = [[] for _ in range(count)] if record else None

        originals = images
        for op, p, params in self._standard:
            chosen = op.mask(count, p, params, generator, indices=indices, epoch=epoch, flip_seed=flip_seed).nonzero().squeeze(1)
            if chosen.numel():
                index = chosen.to(images.device)
                changed, describe = op.apply(images.index_select(0, index), params, generator)
                images = images.index_copy(0, index, changed)
                _collect(entries, chosen, describe)

        for op, p, params in self._mix:
            chosen = sample_apply_mask(count, p, generator).nonzero().squeeze(1)
            if chosen.numel():
                index = chosen.to(images.device)
                partners = _partners(originals, one_hot_labels, chosen, pool, self.num_classes, generator)
                changed, changed_soft, describe = op.mix(
                    images.index_select(0, index), soft.index_select(0, index), partners, params, generator
                )
                images = images.index_copy(0, index, changed)
                soft = soft.index_copy(0, index, changed_soft)
                _collect(entries, chosen, describe)

        records = None if entries is None else _records(entries, soft)
        return AugmentResult(images, soft, records)


def _partners(
    images: Tensor,
    soft: Tensor,
    chosen: Tensor,
    pool: tuple[Tensor, Tensor] | None,
    num_classes: int,
    generator: torch.Generator,
) -> Partners:
    """Partners for the ``chosen`` (mixed) images: a permutation of the batch, or draws from the pool.

    A batch image drawn as its own partner would "mix" with itself and change nothing while its
    record says "pasted from image #k" into image #k; it takes the next batch image instead.
    """
    count = len(chosen)
    if pool is None:
        index = sample_partners(count, len(images), generator, permutation=True)
        own = chosen.to(index.device)
        index = torch.where((index == own) & (len(images) > 1), (index + 1) % len(images), index)
        on_device = index.to(images.device)
        return Partners(images.index_select(0, on_device), soft.index_select(0, on_device), index, "batch")
    pool_images, pool_labels = pool
    index = sample_partners(count, len(pool_images), generator, permutation=False)
    on_pool = index.to(pool_images.device)
    partner_images = pool_images.index_select(0, on_pool).to(images.device)
    partner_soft = one_hot(pool_labels.index_select(0, on_pool.to(pool_labels.device)), num_classes)
    return Partners(partner_images, partner_soft.to(images.device), index, "pool")


def _collect(entries: list[list[dict[str, Any]]] | None, chosen: Tensor, describe: Describe) -> None:
    if entries is not None:
        for position, entry in zip(chosen.tolist(), describe()):
            entries[position].append(entry)


def _records(entries: list[list[dict[str, Any]]], soft: Tensor) -> list[dict[str, Any]]:
    """Per-image records; label weights keep the non-zero classes, largest first, 6 decimals."""
    records = []
    for position, (ops, row) in enumerate(zip(entries, soft.cpu().tolist())):
        weights = sorted(((weight, cls) for cls, weight in enumerate(row) if weight > 0), key=lambda t: (-t[0], t[1]))
        records.append({"index": position, "ops": ops, "label_weights": {cls: round(weight, 6) for weight, cls in weights}})
    return records


def _check_batch(images: Tensor, labels: Tensor) -> None:
    if images.dim() != 4:
        raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}.")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be [B] = [{len(images)}], got shape {tuple(labels.shape)}.")


def _check_pool(pool: tuple[Tensor, Tensor], images: Tensor) -> None:
    pool_images, pool_labels = pool
    if pool_images.dim() != 4 or pool_images.shape[1:] != images.shape[1:] or pool_images.dtype != images.dtype:
        raise ValueError(
            f"pool images must be [N, {', '.join(map(str, images.shape[1:]))}] {images.dtype}, "
            f"got {tuple(pool_images.shape)} {pool_images.dtype}."
        )
    if pool_labels.shape != (len(pool_images),) or not len(pool_images):
        raise ValueError(f"pool labels must be a non-empty [N] = [{len(pool_images)}], got {tuple(pool_labels.shape)}.")
