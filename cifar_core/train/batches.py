"""The training batches of one epoch, augmented batch by batch or all at once.

Batch by batch is the study's way and keeps old runs bit-exact. ``whole_epoch`` augments the
whole shuffled training set in one batched call per epoch and then only slices it: on a GPU that
replaces a dozen small kernel launches and host-device copies per step (each ``.to(device)`` of
CPU-drawn parameters waits for the GPU to catch up) with one set per epoch. The random draws
differ, their distribution does not; mixing ops then find partners in the whole epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from cifar_core.augment import AugmentPipeline, AugmentResult


def augmented_batches(
    pipeline: AugmentPipeline,
    images: torch.Tensor,
    labels: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    epoch: int,
    *,
    whole_epoch: bool = False,
    flip_seed: int | None = None,
) -> Iterator[AugmentResult]:
    """Yield the epoch's augmented batches in ``order`` (indices into ``images``, on the CPU).

    Each image's training-set index goes to the pipeline, so an alternating flip knows which
    images to mirror in this epoch; ``flip_seed`` (the run's seed) picks that half the same way on
    every rank (default: ``generator``'s seed).
    """
    on_device = order.to(images.device)
    if whole_epoch:
        augmented = pipeline(images[on_device], labels[on_device], generator, indices=order, epoch=epoch, flip_seed=flip_seed)
        for start in range(0, len(order), batch_size):
            yield AugmentResult(augmented.images[start : start + batch_size], augmented.soft_labels[start : start + batch_size])
        return
    for start in range(0, len(order), batch_size):
        index = on_device[start : start + batch_size]
        yield pipeline(images[index], labels[index], generator, indices=order[start : start + batch_size], epoch=epoch, flip_seed=flip_seed)
