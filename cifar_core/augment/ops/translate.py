"""Translation by whole pixels, the uncovered border black or mirrored.

Ours, not torchvision's ``affine``: each image has its own shift (torchvision shifts a batch by
one); ``functional.translate`` is one gather and matches ``affine`` with nearest interpolation.
"""

from __future__ import annotations

from cifar_core.augment.spec import OpSpec, Param, one_of, pair

PADDING_MODES = ("zeros", "reflect")  # how functional.translate fills the uncovered border


class Translate(OpSpec):
    """``translate`` ([tx, ty], largest shift as a share of width and height) and ``padding`` (zeros, reflect)."""

    name = "translate"
    title = "Translation"
    order = 30
    params = {"translate": Param((0.1, 0.4), pair(0.0, 1.0)), "padding": Param("zeros", one_of(*PADDING_MODES))}
    widget_params = ("translate",)

    def check(self, resolved, given):
        if resolved["padding"] == "reflect" and max(resolved["translate"]) > 0.5:
            raise ValueError("translate with reflect padding shifts by at most half the image (translate up to 0.5)")

    def apply(self, images, params, generator):
        from cifar_core.augment import functional as F
        from cifar_core.augment.sampling import sample_translations

        height, width = images.shape[-2:]
        shifts = sample_translations(len(images), height, width, params["translate"], generator)
        moved = F.translate(images, shifts, params["padding"])
        return moved, lambda: [{"op": "translate", "shift": shift} for shift in shifts.tolist()]

    def caption(self, entry):
        dx, dy = entry["shift"]
        parts = [f"{abs(dx)} px {'right' if dx > 0 else 'left'}" if dx else "", f"{abs(dy)} px {'down' if dy > 0 else 'up'}" if dy else ""]
        return "shifted " + (", ".join(part for part in parts if part) or "0 px")

    def tag(self, entry):
        dx, dy = entry["shift"]
        return f"shift{dx:+d},{dy:+d}"

    def summary(self, params):
        tx, ty = params["translate"]
        return f"by up to {tx:.0%} ({round(tx * 32)} px) each way" if tx == ty else f"by up to {tx:.0%} sideways and {ty:.0%} up or down"

    def controls(self, ui, persist, disabled):
        tx = ui.slider("Largest sideways shift (share of width)", 0.0, 0.5, step=0.01, **persist("tx", 0.1), disabled=disabled)
        ty = ui.slider("Largest up/down shift (share of height)", 0.0, 0.5, step=0.01, **persist("ty", 0.4), disabled=disabled)
        return {"translate": [tx, ty]}

    def widget_values(self, params):
        tx, ty = params["translate"]
        return {"tx": min(tx, 0.5), "ty": min(ty, 0.5)}


SPEC = Translate()
