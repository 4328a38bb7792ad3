"""CutMix: a square of a partner image pasted in; the label mixed by the exact pasted area.

Ours, not torchvision's ``v2.CutMix``, which draws one box and one weight for the whole batch and
always applies: here each image mixes with its own probability, box and partner.
"""

from __future__ import annotations

from cifar_core.augment.box import boxes_from_corners
from cifar_core.augment.ops._mixing import MixOp


class CutMix(MixOp):
    """``alpha``: the pasted area share is drawn from Beta(α, α)."""

    name = "cutmix"
    title = "CutMix"
    order = 60
    verb = "pasted"

    def mix(self, images, soft_labels, partners, params, generator):
        from cifar_core.augment.mix import cutmix
        from cifar_core.augment.sampling import sample_cutmix_boxes

        height, width = images.shape[-2:]
        boxes = sample_cutmix_boxes(len(images), height, width, params["alpha"], generator)
        mixed, soft, weights = cutmix(images, soft_labels, partners.images, partners.soft_labels, boxes)

        def describe():
            rows = zip(boxes_from_corners(boxes), partners.index.tolist(), weights.tolist())
            return [{"op": "cutmix", "box": box, "partner": j, "source": partners.source, "weight": w} for box, j, w in rows]

        return mixed, soft, describe


SPEC = CutMix()
