"""``Box``: the one way an augmentation record names a region of an image.

resized_crop's crop, cutout's blacked-out square and cutmix's pasted patch are all recorded as a
``Box``, so the lab's captions, the preview's outlines and the tests read every op's region the
same way. A box is half-open, as slices are: rows ``top`` to ``bottom - 1`` and columns ``left``
to ``right - 1``; a box clipped away at the border has no area.

It is a ``NamedTuple``: a record stays JSON-friendly (``[top, left, bottom, right]``) and a record
read back from JSON becomes a ``Box`` again with ``Box(*values)``. The kernels keep their own
tensor layouts (``functional.resized_crop`` takes torchvision's ``(top, left, height, width)``);
the ops convert when they record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from torch import Tensor


class Box(NamedTuple):
    """A half-open pixel rectangle: ``image[..., top:bottom, left:right]``."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Box:
        """A ``Box`` from a record's box as stored (a ``Box``, or the list JSON gives back)."""
        return cls(*(int(value) for value in values))

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def area(self) -> int:
        return self.height * self.width

    def outline(self, scale: int, origin: tuple[int, int] = (0, 0)) -> tuple[int, int, int, int]:
        """PIL's inclusive ``(x0, y0, x1, y1)`` rectangle of this box on an image upscaled
        ``scale`` times and pasted at ``origin = (x, y)``: just inside the box's upscaled edges."""
        x, y = origin
        return (x + self.left * scale, y + self.top * scale, x + self.right * scale - 1, y + self.bottom * scale - 1)


def boxes_from_corners(corners: Tensor) -> list[Box]:
    """``[N, 4]`` half-open ``(top, left, bottom, right)`` rows (cutout's, cutmix's) as boxes."""
    return [Box(*row) for row in corners.tolist()]


def boxes_from_sizes(sizes: Tensor) -> list[Box]:
    """``[N, 4]`` ``(top, left, height, width)`` rows (resized_crop's, as torchvision's) as boxes."""
    return [Box(top, left, top + height, left + width) for top, left, height, width in sizes.tolist()]


__all__ = ["Box", "boxes_from_corners", "boxes_from_sizes"]
