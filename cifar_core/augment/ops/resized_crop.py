"""Random resized crop: a random box of the image, resized back to full size.

Ours, not torchvision's ``resized_crop``: every image has its own box, which one ``interpolate``
call cannot do; ``functional.resized_crop`` batches them as two matmuls and matches torchvision's
antialiased bilinear output (tested).
"""

from __future__ import annotations

from cifar_core.augment.box import Box, boxes_from_sizes
from cifar_core.augment.spec import OpSpec, Param, pair


class ResizedCrop(OpSpec):
    """``scale`` (area share) and ``ratio`` (aspect) ranges, drawn as RandomResizedCrop does."""

    name = "resized_crop"
    title = "Random resized crop"
    order = 20
    params = {"scale": Param((0.08, 1.0), pair(0.0, 1.0, low_open=True)), "ratio": Param((3 / 4, 4 / 3), pair(0.0, 100.0, low_open=True))}
    widget_params = ("scale",)

    def apply(self, images, params, generator):
        from cifar_core.augment import functional as F
        from cifar_core.augment.sampling import sample_resized_crop_boxes

        height, width = images.shape[-2:]
        boxes = sample_resized_crop_boxes(len(images), height, width, params["scale"], params["ratio"], generator)
        cropped = F.resized_crop(images, boxes, (height, width))
        return cropped, lambda: [{"op": "resized_crop", "box": box} for box in boxes_from_sizes(boxes)]

    def caption(self, entry):
        box = Box.of(entry["box"])
        return f"cropped {box.width}×{box.height} px at ({box.left}, {box.top}) and resized"

    def tag(self, entry):
        return "crop"

    def summary(self, params):
        return f"keeping {params['scale'][0]:.0%}–{params['scale'][1]:.0%} of the area"

    def controls(self, ui, persist, disabled):
        low, high = ui.slider(
            "Crop area (share of the image)", 0.05, 1.0, step=0.01, **persist("crop_scale", (0.08, 1.0)), disabled=disabled
        )
        return {"scale": [low, high]}

    def widget_values(self, params):
        return {"crop_scale": (max(0.05, params["scale"][0]), params["scale"][1])}


SPEC = ResizedCrop()
