"""The reliability diagram: accuracy against confidence, bin by bin, beside the diagonal of a calibrated model."""

from __future__ import annotations

import plotly.graph_objects as go

from cifar_core.calibration import Reliability


def reliability_figure(bins: Reliability, *, title: str | None = None, height: int = 360) -> go.Figure:
    """Bars of each bin's accuracy (empty bins left out), the diagonal, and the bin's mean confidence on hover.

    A bar below the diagonal is over-confidence: the model said more than it got right.
    """
    filled = [k for k, count in enumerate(bins.counts) if count]
    centres = [(bins.edges[k] + bins.edges[k + 1]) / 2 for k in filled]
    width = bins.edges[1] - bins.edges[0]
    figure = go.Figure(
        go.Bar(
            x=centres,
            y=[bins.accuracy[k] for k in filled],
            width=width * 0.95,
            name="accuracy in bin",
            marker_color="#1f77b4",
            customdata=[[bins.edges[k], bins.edges[k + 1], bins.counts[k], bins.confidence[k]] for k in filled],
            hovertemplate="confidence %{customdata[0]:.0%}–%{customdata[1]:.0%}: %{customdata[2]} images, "
            "mean confidence %{customdata[3]:.0%}, right %{y:.0%}<extra></extra>",
        )
    )
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"dash": "dash", "color": "#7f7f7f"}))
    figure.update_xaxes(title_text="confidence (top probability)", range=[0, 1], tickformat=".0%")
    figure.update_yaxes(title_text="share right", range=[0, 1], tickformat=".0%")
    figure.update_layout(
        title=title or f"ECE {bins.ece:.3f} ({len(bins.counts)} equal-width bins)",
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
        bargap=0,
    )
    return figure
