"""Every picture of CIFAR pixels goes to the browser as PNG.

``st.image`` sends an RGB picture as JPEG unless told otherwise, and JPEG halves the colour
resolution (4:2:0 chroma subsampling, even at quality 100): on a 32×32 image upscaled for the
screen that smears exactly the pixels a lesson on augmentation or saliency is about. PNG keeps
them; an upscaled CIFAR image compresses to a few kilobytes either way.
"""

from __future__ import annotations

from typing import Any


def show_pixels(container: Any, image: Any, **options: Any) -> Any:
    """``container.image(image, **options)`` (``st`` or a column), lossless."""
    return container.image(image, output_format="PNG", **options)
