"""Figures of a paired comparison of two runs: the confusion difference and the per-class deltas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from cifar_core.figures.runs import confusion_figure


def difference_figure(difference: Any, classes: Sequence[str]) -> go.Figure:
    """confusion(B) − confusion(A) on a diverging scale centred at 0 (blue: B puts more images in the cell).

    Built on the confusion figure so its cells click the same way (``confusion_cell`` reads them).
    """
    figure = confusion_figure(difference, classes)
    values = [abs(value) for row in difference.tolist() for value in row]
    reach = max(values + [1])
    figure.data[0].update(colorscale="RdBu", zmid=0, zmin=-reach, zmax=reach, colorbar={"title": {"text": "B − A"}})
    figure.data[0].update(text=[["" if value == 0 else f"{value:+d}" for value in row] for row in difference.tolist()])
    figure.data[1].update(
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]:+.0f} images (B − A) · click to see them<extra></extra>"
    )
    return figure


def class_delta_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Per-class accuracy change (points) with its 95% interval as error bars; classes without images left out."""
    shown = [row for row in rows if row["delta"] is not None]
    deltas = [100 * float(row["delta"]) for row in shown]
    figure = go.Figure(
        go.Bar(
            x=[row["class"] for row in shown],
            y=deltas,
            marker_color=["#2166ac" if delta > 0 else "#b2182b" for delta in deltas],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [100 * row["interval"].high - delta for row, delta in zip(shown, deltas)],
                "arrayminus": [delta - 100 * row["interval"].low for row, delta in zip(shown, deltas)],
                "color": "#444",
            },
            customdata=[[row["support"], 100 * row["interval"].low, 100 * row["interval"].high] for row in shown],
            hovertemplate="%{x}: %{y:+.1f} points (95% interval %{customdata[1]:+.1f} to %{customdata[2]:+.1f}), "
            "%{customdata[0]} images<extra></extra>",
        )
    )
    figure.add_hline(y=0, line_color="#444", line_width=1)
    figure.update_yaxes(title_text="accuracy B − A (points)")
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    return figure
