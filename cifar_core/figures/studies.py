"""Plotly figures for a study: per-variant bars with error bars, small-multiple curves, a grid heatmap.

Free of Streamlit, like ``figures.runs``, so the app, tests and reports (``docs/studies/*/ablation.png``) draw the
same figures from the same tables (``study.results.variant_table`` / ``run_table``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cifar_core.figures.runs import TRAIN_COLOR, VAL_COLOR, epoch_frame

BAR_COLOR = "#4c78a8"
GAP_COLOR = "#f58518"
SEED_DOT = "rgba(0, 0, 0, 0.55)"


def variant_bars_figure(variants: pd.DataFrame, runs: pd.DataFrame | None = None, *, title: str | None = None) -> go.Figure:
    """Validation accuracy (left) and train−validation accuracy gap (right), one bar per variant.

    Bars are means over finished seeds, error bars one standard deviation, and the dots each
    seed's own value, so two variants whose dots overlap are not told apart by this study. Bars
    lie horizontally so the variant names ("all but resized_crop") stay readable. Numbers are in %
    (the gap in points) with one decimal, as the page's tables write them, and the panel titles
    say that ± is a standard deviation: the page's other ± (a 95% interval) is a different width.
    """
    figure = _bar_panels("Validation accuracy (final epoch), mean ± sd", "Gap: train − validation acc, mean ± sd")
    names = list(variants["variant"])
    for col, metric, color, unit in ((1, "final_val_acc", BAR_COLOR, "%"), (2, "acc_gap", GAP_COLOR, " points")):
        means, stds = variants[f"{metric}_mean"], variants[f"{metric}_std"]
        _add_bars(
            figure,
            col,
            names,
            means,
            stds.fillna(0),
            color,
            [_mean_std(m, s, unit) for m, s in zip(means, stds)],
            # numbers written on the accuracy bars only: gaps near zero leave no room inside a bar
            textposition="inside" if col == 1 else "none",
            insidetextanchor="start",
            textangle=0,
            textfont={"color": "white"},
        )
        if runs is not None:
            done = runs[runs["state"] == "finished"]
            figure.add_trace(
                go.Scatter(
                    y=done["variant"],
                    x=done[metric],
                    mode="markers",
                    showlegend=col == 1,
                    name="one seed",
                    marker={"color": SEED_DOT, "size": 7, "line": {"color": "white", "width": 1}},
                    customdata=done["seed"],
                    hovertemplate="%{y}, seed %{customdata}: %{x:.1%}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    figure.update_xaxes(range=[0, _top(variants, "final_val_acc")], row=1, col=1)
    _bar_layout(
        figure,
        names,
        title,
        right_margin=10,
        legend={"orientation": "h", "y": 0.99, "yanchor": "top", "x": 0.99, "xanchor": "right", "yref": "container"},
    )
    return figure


def variant_curves_figure(
    curves: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]], *, metric: str = "acc", columns: int = 4
) -> go.Figure:
    """One panel per variant: train (solid) and validation (dashed) curves, one line pair per seed.

    ``curves`` maps a variant name to its runs' event lists. Panels share both axes, so the height
    of a curve and the space between train and validation can be compared across panels.
    """
    names = list(curves)
    figure, rows, place = _panels(names, names, columns, horizontal_spacing=0.03, vertical_spacing=0.12)
    for number, name in enumerate(names):
        row, col = place(number)
        for events in curves[name]:
            epochs = epoch_frame(events)
            for split, color, dash in (("train", TRAIN_COLOR, "solid"), ("val", VAL_COLOR, "dash")):
                values = epochs[f"{split}_{metric}"]
                if not values.notna().any():
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=epochs["epoch"],
                        y=values,
                        mode="lines+markers",
                        line={"color": color, "dash": dash, "width": 1.5},
                        marker={"size": 4},
                        name="train" if split == "train" else "validation",
                        legendgroup=split,
                        showlegend=False,
                        hovertemplate=f"{name} · {split} %{{y:.3f}} at epoch %{{x}}<extra></extra>",
                    ),
                    row=row,
                    col=col,
                )
    for split, color, dash in (("train", TRAIN_COLOR, "solid"), ("validation", VAL_COLOR, "dash")):
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line={"color": color, "dash": dash}, name=split))
    _curve_axes(figure, metric)
    figure.update_layout(
        height=260 * rows + 60,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": 1.0 + 40 / (260 * rows + 60), "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return figure


def grid_heatmap_figure(variants: pd.DataFrame, x_field: str, y_field: str, metric: str = "final_val_acc") -> go.Figure:
    """Mean ``metric`` (an accuracy) over a 2-D grid, ``mean ± sd`` in % written in each cell."""
    means = variants.pivot_table(index=y_field, columns=x_field, values=f"{metric}_mean", aggfunc="first", dropna=False)
    stds = variants.pivot_table(index=y_field, columns=x_field, values=f"{metric}_std", aggfunc="first", dropna=False)
    stds = stds.reindex(index=means.index, columns=means.columns)
    text = [[_mean_std(m, s, "%") for m, s in zip(mean_row, std_row)] for mean_row, std_row in zip(means.to_numpy(), stds.to_numpy())]
    figure = go.Figure(
        go.Heatmap(
            z=means.to_numpy(),
            x=[str(v) for v in means.columns],
            y=[str(v) for v in means.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar={"title": metric, "tickformat": ".0%"},
            hovertemplate=f"{x_field}=%{{x}}, {y_field}=%{{y}}: %{{text}} (mean ± sd over seeds)<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=x_field, type="category")
    figure.update_yaxes(title_text=y_field, type="category")
    figure.update_layout(height=120 + 60 * len(means.index), margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def _mean_std(mean: float, std: float, unit: str) -> str:
    """A fraction as "45.1 ± 2.9%" (``unit`` after the numbers), the one-decimal percent the tables show."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    if std is None or math.isnan(std):
        return f"{100 * mean:.1f}{unit}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}{unit}"


def _top(variants: pd.DataFrame, metric: str) -> float:
    """Room past the longest bar and its error bar, at most 100 %."""
    tops = (variants[f"{metric}_mean"] + variants[f"{metric}_std"].fillna(0)).to_numpy(dtype=float)
    highest = np.nanmax(tops) if np.isfinite(tops).any() else 1.0
    return min(1.0, highest * 1.1 + 0.02)


def mean_curves(runs_events: Sequence[Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """Per epoch, the mean over seeds of train and validation accuracy and loss (epochs all seeds reached)."""
    frames = [epoch_frame(events) for events in runs_events]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return epoch_frame([])
    joined = pd.concat(frames)
    counts = joined.groupby("epoch").size()
    means = joined.groupby("epoch").mean(numeric_only=True)
    return means[counts == len(frames)].reset_index()


def gap_curves_figure(curves: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]], *, metric: str = "acc", columns: int = 4) -> go.Figure:
    """One panel per variant: mean train and validation curves over seeds, the gap between them shaded.

    The shaded band is what the model learned about its training images that did not carry over
    to new ones; a regulariser that helps narrows it *and* lifts the validation line. Panels share
    both axes, so bands can be compared across variants at a glance.
    """
    names = [name for name in curves if any(len(epoch_frame(events)) for events in curves[name])]  # variants with a finished epoch
    figure, rows, place = _panels(names, names or None, columns, horizontal_spacing=0.02, vertical_spacing=0.14)
    # validation first, then train filled down to it ("tonexty"): the band between them is the gap
    lines = (
        ("val", "validation", "validation", VAL_COLOR, {}),
        ("train", "train", "train (gap shaded)", TRAIN_COLOR, {"fill": "tonexty", "fillcolor": "rgba(245, 133, 24, 0.25)"}),
    )
    for number, name in enumerate(names):
        row, col = place(number)
        means = mean_curves(curves[name])
        seeds = len([events for events in curves[name] if len(epoch_frame(events))])
        for split, label, legend_name, color, fill in lines:
            figure.add_trace(
                go.Scatter(
                    x=means["epoch"],
                    y=means[f"{split}_{metric}"],
                    mode="lines",
                    line={"color": color, "width": 2},
                    **fill,
                    name=legend_name,
                    legendgroup=split,
                    showlegend=number == 0,
                    hovertemplate=f"{name} · {label} %{{y:.3f}} at epoch %{{x}} (mean of {seeds} seeds)<extra></extra>",
                ),
                row=row,
                col=col,
            )
    _curve_axes(figure, metric)
    figure.update_annotations(font_size=12)  # the panel titles: long variant names must not run into each other
    figure.update_layout(
        height=230 * rows + 70,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "y": 1.0, "yref": "container", "yanchor": "top", "x": 1, "xanchor": "right"},
    )
    return figure


def interval_bars_figure(values: Sequence[Any], gaps: Sequence[Any], *, title: str | None = None) -> go.Figure:
    """Validation accuracy (left) and "how much does it over-fit" (right: final train − validation
    accuracy), one bar per variant, with 95% t-intervals over seeds.

    ``values`` and ``gaps`` are ``stats.Comparison`` lists on ``final_val_acc`` and ``acc_gap``.
    """
    # two titles side by side over half-width panels: short enough not to run into each other
    figure = _bar_panels("Val accuracy (± 95% CI)", "Gap train − val (± 95% CI)")
    names = [c.variant for c in values]
    for col, comparisons, color in ((1, values, BAR_COLOR), (2, gaps, GAP_COLOR)):
        means = [c.value.mean for c in comparisons]
        halves = [0.0 if math.isnan(c.value.half_width) else c.value.half_width for c in comparisons]
        text = [
            f"{100 * m:.1f}%" if math.isnan(c.value.half_width) else f"{100 * m:.1f} ± {100 * h:.1f}%"
            for m, h, c in zip(means, halves, comparisons)
        ]
        _add_bars(figure, col, names, means, halves, color, text, textposition="outside", cliponaxis=False)
    tops = [c.value.mean + (0 if math.isnan(c.value.half_width) else c.value.half_width) for c in values]
    finite = [top for top in tops if math.isfinite(top)]
    figure.update_xaxes(range=[0, min(1.0, max(finite, default=1.0) * 1.25 + 0.02)], row=1, col=1)
    gap_tops = [abs(c.value.mean) + (0 if math.isnan(c.value.half_width) else c.value.half_width) for c in gaps]
    gap_reach = max((top for top in gap_tops if math.isfinite(top)), default=0.5) * 1.35 + 0.02
    lowest = min((c.value.mean for c in gaps if math.isfinite(c.value.mean)), default=0.0)
    figure.update_xaxes(range=[min(0.0, lowest * 1.35 - 0.02), gap_reach], row=1, col=2)
    _bar_layout(figure, names, title, right_margin=30)
    return figure


def _bar_panels(left_title: str, right_title: str) -> go.Figure:
    """Two side-by-side panels sharing the variant axis: one horizontal bar per variant in each."""
    return make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=(left_title, right_title))


def _add_bars(
    figure: go.Figure, col: int, names: Sequence[str], means: Any, errors: Any, color: str, text: Sequence[str], **style: Any
) -> None:
    """One horizontal bar per variant in panel ``col``, with its error bar; ``text`` is what
    hovering (and, as ``style`` places it, the bar itself) says."""
    figure.add_trace(
        go.Bar(
            y=names,
            x=means,
            orientation="h",
            marker_color=color,
            showlegend=False,
            error_x={"type": "data", "array": errors, "visible": True, "thickness": 1.5, "width": 5},
            text=text,
            hovertemplate="%{y}: %{text}<extra></extra>",
            **style,
        ),
        row=1,
        col=col,
    )


def _bar_layout(figure: go.Figure, names: Sequence[str], title: str | None, *, right_margin: int, **layout: Any) -> None:
    """Percent axes; variants top to bottom in study order, 34 px a bar; room for a title."""
    figure.update_xaxes(tickformat=".0%")
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    figure.update_layout(
        title=title,
        height=140 + 34 * len(names),
        bargap=0.3,
        margin={"l": 10, "r": right_margin, "t": 80 if title else 50, "b": 10},
        **layout,
    )


def _panels(
    names: Sequence[str], titles: Sequence[str] | None, columns: int, *, horizontal_spacing: float, vertical_spacing: float
) -> tuple[go.Figure, int, Callable[[int], tuple[int, int]]]:
    """A grid of panels sharing both axes, one per name, ``columns`` wide: the figure, its row
    count and where panel ``number`` sits (row, col)."""
    cols = max(1, min(columns, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        shared_xaxes=True,
        shared_yaxes=True,
        horizontal_spacing=horizontal_spacing,
        vertical_spacing=vertical_spacing if rows > 1 else 0.05,
    )
    return figure, rows, lambda number: (number // cols + 1, number % cols + 1)


def _curve_axes(figure: go.Figure, metric: str) -> None:
    """Epochs from zero; accuracy from 0 to 100 % on every panel."""
    if metric == "acc":
        figure.update_yaxes(range=[0, 1], tickformat=".0%")
    figure.update_xaxes(rangemode="tozero")


# The share of a panel's width that a "57.9 ± 5.1%" label needs beside its bar (at the page's or a report's width).
LABEL_ROOM = 0.24


def labels_past_intervals(figure: go.Figure) -> go.Figure:
    """Move each interval bar's "mean ± half-width" label past the end of its error bar.

    ``interval_bars_figure`` writes the label just outside the bar, where a wide interval's error
    bar runs through it ("57.9 ± 5.1%" crossed out). Here each label starts where the interval ends
    (to the left for a negative gap), and each panel's range is widened to hold it.
    """
    for trace in list(figure.data):
        if trace.type != "bar" or trace.text is None:
            continue
        means = [float(x) for x in trace.x]
        halves = [float(h) for h in (trace.error_x.array if trace.error_x.array is not None else [0.0] * len(means))]
        ends = [m + h if m >= 0 else m - h for m, h in zip(means, halves)]
        figure.add_trace(
            go.Scatter(
                x=ends,
                y=list(trace.y),
                mode="text",
                text=[f" {label} " for label in trace.text],  # clear of the error bar's cap
                textposition=["middle right" if m >= 0 else "middle left" for m in means],
                textfont={"size": 11},
                cliponaxis=False,
                showlegend=False,
                hoverinfo="skip",
                xaxis=trace.xaxis,
                yaxis=trace.yaxis,
            )
        )
        trace.textposition = "none"
        finite = [end for end in ends if math.isfinite(end)]  # a variant without a finished run has no bar
        low, high = min([0.0, *finite]), max([0.0, *finite])
        sides = (low < 0) + (high > 0)
        span = (high - low) / (1 - LABEL_ROOM * sides)
        axis = "xaxis" + trace.xaxis[1:]
        low, high = (low - LABEL_ROOM * span if low < 0 else 0.0), (high + LABEL_ROOM * span if high > 0 else 0.0)
        figure.layout[axis].range = [low, high]
        if low >= 0:  # accuracy: no tick past 100%
            figure.layout[axis].tickvals = [v / 10 for v in range(0, 11, 2) if v / 10 <= high]
    return figure


def ticks_on_every_panel(figure: go.Figure) -> go.Figure:
    """Epoch numbers under every panel of ``gap_curves_figure``: with shared axes only the bottom row has
    them, so a last row with fewer panels would leave the columns beside it without any."""
    figure.update_xaxes(showticklabels=True)
    return figure
