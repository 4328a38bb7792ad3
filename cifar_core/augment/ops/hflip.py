"""Horizontal flip, by chance or alternating (each image mirrored on every other epoch).

torchvision's ``hflip`` is used as is: it is already batched and has no per-image parameter.
"""

from __future__ import annotations

from cifar_core.augment.spec import OpSpec, Param, flag


class HorizontalFlip(OpSpec):
    """``alternate``: the speed records' flip, where ``p`` is ignored and half the images flip each epoch."""

    name = "hflip"
    title = "Horizontal flip"
    order = 40
    params = {"alternate": Param(False, flag)}

    def mask(self, count, p, params, generator, *, indices=None, epoch=0, flip_seed=None, **context):
        if not params["alternate"]:
            return super().mask(count, p, params, generator)
        import torch

        from cifar_core.augment.sampling import alternate_flip_mask

        positions = torch.arange(count) if indices is None else indices.cpu()
        return alternate_flip_mask(positions, epoch, generator.initial_seed() if flip_seed is None else flip_seed)

    def apply(self, images, params, generator):
        from torchvision.transforms.v2 import functional as TF

        return TF.horizontal_flip(images), lambda: [{"op": "hflip"} for _ in range(len(images))]

    def caption(self, entry):
        return "mirrored"

    def summary(self, params):
        return "on alternate epochs" if params["alternate"] else ""


SPEC = HorizontalFlip()
