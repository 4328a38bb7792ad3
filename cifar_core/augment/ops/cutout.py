"""Cutout: a black square at a random place (clipped at the border).

Ours: torchvision's ``erase`` takes one box for the whole batch; ``functional.cutout`` masks a box per image.
"""

from __future__ import annotations

from cifar_core.augment.box import Box, boxes_from_corners
from cifar_core.augment.spec import OpSpec, Param, pixels


class Cutout(OpSpec):
    """``size``: the square's side in pixels."""

    name = "cutout"
    title = "Cutout"
    order = 50
    params = {"size": Param(16, pixels)}
    widget_params = ("size",)

    def apply(self, images, params, generator):
        import torch

        from cifar_core.augment import functional as F
        from cifar_core.augment.sampling import sample_square_boxes

        height, width = images.shape[-2:]
        sides = torch.full((len(images),), params["size"], dtype=torch.long, device=generator.device)
        boxes = sample_square_boxes(height, width, sides, generator)
        return F.cutout(images, boxes), lambda: [{"op": "cutout", "box": box} for box in boxes_from_corners(boxes)]

    def caption(self, entry):
        box = Box.of(entry["box"])
        return f"blacked out {box.width}×{box.height} px"

    def summary(self, params):
        return f"of a {params['size']}-px square"

    def controls(self, ui, persist, disabled):
        return {"size": ui.slider("Square side (pixels)", 1, 32, **persist("cutout", 16), disabled=disabled)}

    def widget_values(self, params):
        return {"cutout": max(1, min(32, params["size"]))}


SPEC = Cutout()
