"""Pictures for the Explain page: the embedding map as an interactive chart, feature maps as tiles.

The map is a Vega-Lite (Altair) chart rather than Plotly because Vega's tooltip can show an image
(a field named ``image`` holding a data URL), so hovering a point shows the picture behind it;
Plotly's hover labels are text only. A drag draws a selection box that the page reads back
(``st.altair_chart(on_select="rerun")``) to open a gallery of exactly those images.
"""

from __future__ import annotations

import base64
import io

import altair as alt
import numpy as np
import pandas as pd
import torch
from PIL import Image

from cifar_core.explain.embedding import EmbeddingMap
from cifar_core.figures.images import to_hwc

SELECTION = "box"
THUMBNAIL_QUALITY = 90
THUMBNAIL_SHOWN_PX = 128
TOOLTIP_CSS = (
    f"<style>#vg-tooltip-element img {{width: {THUMBNAIL_SHOWN_PX}px; height: {THUMBNAIL_SHOWN_PX}px; image-rendering: pixelated;}}</style>"
)
"""The tooltip draws a thumbnail at its natural 32x32 pixels, too small to see; this enlarges it with
sharp pixels in the browser, so the chart carries 1 KB per point rather than an enlarged picture."""


def thumbnail_urls(images: torch.Tensor) -> list[str]:
    """Each uint8 [3, 32, 32] image as a small JPEG data URL (about 1 KB) for tooltips."""
    urls = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(to_hwc(image), mode="RGB").save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
        urls.append("data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode())
    return urls


def embedding_frame(points: EmbeddingMap, classes: tuple[str, ...], thumbnails: list[str] | None = None) -> pd.DataFrame:
    """One row per point with what the chart draws and the tooltip shows."""
    frame = pd.DataFrame(
        {
            "x": points.x,
            "y": points.y,
            "index": points.index,
            "true class": [classes[c] for c in points.true],
            "prediction": [f"{classes[p]} ({c:.0%})" for p, c in zip(points.predicted, points.confidence)],
            "mark": np.where(points.true == points.predicted, "right", "mistake"),
        }
    )
    if thumbnails is not None:
        frame["image"] = thumbnails
    return frame


def embedding_chart(frame: pd.DataFrame, classes: tuple[str, ...]) -> alt.Chart:
    """Points coloured by true class, mistakes drawn as crosses; drag a box to select (the rest fade)."""
    box = alt.selection_interval(name=SELECTION, encodings=["x", "y"])
    tooltip = [field for field in ("image", "index", "true class", "prediction") if field in frame.columns]
    return (
        alt.Chart(frame)
        .mark_point(filled=True, size=28)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=alt.Color("true class:N", scale=alt.Scale(domain=list(classes), scheme="tableau10"), title="true class"),
            shape=alt.Shape("mark:N", scale=alt.Scale(domain=["right", "mistake"], range=["circle", "cross"]), title="prediction"),
            opacity=alt.condition(box, alt.value(0.8), alt.value(0.15)),
            tooltip=tooltip,
        )
        .add_params(box)
        .properties(height=560)
    )


def selected_rows(points: EmbeddingMap, event: dict | None) -> np.ndarray:
    """Positions of the points inside the box the user drew (none without a box)."""
    selection = ((event or {}).get("selection") or {}).get(SELECTION) or {}
    if "x" not in selection or "y" not in selection:
        return np.empty(0, dtype=np.int64)
    return points.in_box(tuple(selection["x"]), tuple(selection["y"]))


def activation_tile(activation: torch.Tensor, size: int = 128) -> Image.Image:
    """A [H, W] map in [0, 1] as a grey tile enlarged to about ``size`` pixels with nearest-neighbour."""
    scale = max(1, size // activation.shape[-1])
    grey = (activation.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1), mode="L")


def filter_sheet(patches: np.ndarray, patch_px: int = 60, gap: int = 4, columns: int = 8) -> Image.Image:
    """First-layer filters [F, k, k, 3] as colour patches of about ``patch_px`` pixels (sharp) on a white sheet."""
    scale = max(1, round(patch_px / patches.shape[1]))
    count, size = len(patches), patches.shape[1] * scale
    rows = -(-count // columns)
    sheet = np.full((rows * (size + gap) - gap, min(count, columns) * (size + gap) - gap, 3), 255, dtype=np.uint8)
    for position, patch in enumerate(patches):
        top, left = (position // columns) * (size + gap), (position % columns) * (size + gap)
        sheet[top : top + size, left : left + size] = np.repeat(np.repeat(patch, scale, axis=0), scale, axis=1)
    return Image.fromarray(sheet, mode="RGB")
