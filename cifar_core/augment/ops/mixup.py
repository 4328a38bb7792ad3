"""MixUp: the whole image blended with a partner; the label blended alike.

Ours, not torchvision's ``v2.MixUp``: that one draws one weight per batch and always applies.
"""

from __future__ import annotations

from cifar_core.augment.ops._mixing import MixOp


class MixUp(MixOp):
    """``alpha``: the partner's weight is drawn from Beta(α, α)."""

    name = "mixup"
    title = "MixUp"
    order = 70
    verb = "blended in"

    def mix(self, images, soft_labels, partners, params, generator):
        from cifar_core.augment.mix import mixup
        from cifar_core.augment.sampling import sample_beta

        weights = sample_beta(params["alpha"], len(images), generator)
        mixed, soft = mixup(images, soft_labels, partners.images, partners.soft_labels, weights)

        def describe():
            rows = zip(partners.index.tolist(), weights.tolist())
            return [{"op": "mixup", "partner": j, "source": partners.source, "weight": w} for j, w in rows]

        return mixed, soft, describe


SPEC = MixUp()
