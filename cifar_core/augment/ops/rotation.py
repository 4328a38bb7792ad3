"""Rotation by a right angle from a set, or by any angle drawn from a range.

Ours, not torchvision's ``rotate``: each image has its own angle, and torchvision rotates a whole
batch by one; multiples of 90° take the exact ``rot90`` path (``functional.rotate``).
"""

from __future__ import annotations

from typing import Any

from cifar_core.augment.spec import OpSpec, Param, number, pair

RIGHT_ANGLES = "Right angles"
ANY_ANGLE = "Any angle in a range"


def _angles(value: Any) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{value!r} is not a non-empty list of angles in degrees")
    angles = tuple(number(angle) for angle in value)
    if any(abs(angle) > 360 for angle in angles):
        raise ValueError(f"{value!r} has an angle outside [-360, 360]")
    return angles


def _angle(degrees: float) -> int | float:
    return int(degrees) if float(degrees).is_integer() else round(degrees, 4)


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Rotation(OpSpec):
    """``angles`` (a set, default 90/180/270) or ``degrees`` ([lo, hi], uniform), never both."""

    name = "rotation"
    title = "Rotation"
    order = 10
    params = {"angles": Param((90.0, 180.0, 270.0), _angles), "degrees": Param(None, pair(-360.0, 360.0))}
    widget_params = ("angles", "degrees")

    def check(self, resolved, given):
        if {"angles", "degrees"} <= set(given):
            raise ValueError("rotation takes either 'angles' (a set) or 'degrees' (a range), not both")

    def apply(self, images, params, generator):
        from cifar_core.augment import functional as F
        from cifar_core.augment.sampling import sample_choice, sample_uniform

        count = len(images)
        if params["degrees"] is not None:
            angles = sample_uniform(*params["degrees"], count, generator)
        else:
            angles = sample_choice(params["angles"], count, generator)
        return F.rotate(images, angles), lambda: [{"op": "rotation", "angle": _angle(a)} for a in angles.tolist()]

    def caption(self, entry):
        return f"rotated {round(entry['angle'])}°"  # round(), not :.0f, which prints -0 for -0.3

    def tag(self, entry):
        return f"rot{entry['angle']}"

    def summary(self, params):
        if params.get("degrees"):
            return f"by {params['degrees'][0]:g}° to {params['degrees'][1]:g}°"
        return "by " + _or_list([f"{angle:g}°" for angle in params["angles"]])

    def controls(self, ui, persist, disabled):
        mode = ui.radio("Angles", [RIGHT_ANGLES, ANY_ANGLE], **persist("rot_mode", RIGHT_ANGLES), horizontal=True, disabled=disabled)
        if mode == RIGHT_ANGLES:
            return {"angles": ui.multiselect("Choose among", [90, 180, 270], **persist("rot_angles", [90, 180, 270]), disabled=disabled)}
        low, high = ui.slider("Degrees", -180, 180, **persist("rot_degrees", (-30, 30)), disabled=disabled)
        return {"degrees": [low, high]}

    def widget_values(self, params):
        if params["degrees"] is not None:
            low, high = (int(max(-180, min(180, round(value)))) for value in params["degrees"])
            return {"rot_mode": ANY_ANGLE, "rot_degrees": (low, high)}
        return {"rot_mode": RIGHT_ANGLES, "rot_angles": [int(a) for a in params["angles"] if a in (90, 180, 270)]}


SPEC = Rotation()
