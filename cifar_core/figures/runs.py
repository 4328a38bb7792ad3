"""Plotly figures and tables built from run events and evaluation results.

Kept free of Streamlit so the figures can be tested (and reused by notebooks or reports): every
function takes plain data (event dicts as ``metrics.jsonl`` holds them, confusion counts, class
names) and returns a ``plotly`` figure or a ``pandas`` frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
RUN_COLORS = qualitative.Plotly
EPOCH_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def epoch_frame(events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per finished epoch (a resumed run's repeated epochs keep their latest values).

    ``x`` is where the epoch ends on a fractional epoch axis: a last epoch that a time budget cut
    to 42% of its steps ends at x = epoch - 1 + 0.42, not at a whole epoch.
    """
    rows = [
        {**{column: event.get(column) for column in EPOCH_COLUMNS}, "x": event["epoch"] - 1 + event.get("epoch_fraction", 1.0)}
        for event in events
        if event.get("type") == "epoch"
    ]
    frame = pd.DataFrame(rows, columns=[*EPOCH_COLUMNS, "x"])
    frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch")
    return frame.astype({column: float for column in (*EPOCH_COLUMNS[1:], "x")}).reset_index(drop=True)


def step_frame(events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Running training loss within epochs, at fractional epochs (so it lines up with epoch points)."""
    rows = [
        {"x": event["epoch"] - 1 + event["step"] / event["steps_per_epoch"], "train_loss": event["train_loss"]}
        for event in events
        if event.get("type") == "step"
    ]
    frame = pd.DataFrame(rows, columns=["x", "train_loss"])
    return frame.drop_duplicates("x", keep="last").sort_values("x").reset_index(drop=True)


def curves_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], *, show_steps: bool = True) -> go.Figure:
    """Loss (left) and accuracy (right) against epoch: train solid, validation dashed.

    ``runs`` maps a label to that run's events. One run is drawn in train/validation colours;
    several runs get a colour each so they can be overlaid. With ``show_steps`` the running
    training loss between epochs is drawn thinly, so a live run shows progress before its first
    epoch ends.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.12)
    single = len(runs) == 1
    last_epoch = 1
    for number, (label, events) in enumerate(runs.items()):
        epochs, steps = epoch_frame(events), step_frame(events)
        last_epoch = max([last_epoch, *epochs["epoch"]])
        color = RUN_COLORS[number % len(RUN_COLORS)]
        train_color, val_color = (TRAIN_COLOR, VAL_COLOR) if single else (color, color)
        prefix = "" if single else f"{label} · "
        group = None if single else label  # grouped legend entries stack, so only group several runs
        if show_steps and len(steps):
            figure.add_trace(
                go.Scatter(
                    x=steps["x"],
                    y=steps["train_loss"],
                    mode="lines",
                    name=f"{prefix}train loss (running)",
                    line={"color": train_color, "width": 1},
                    opacity=0.35,
                    legendgroup=group,
                ),
                row=1,
                col=1,
            )
        for column, split, color_, dash, col in (
            ("train_loss", "train", train_color, "solid", 1),
            ("val_loss", "validation", val_color, "dash", 1),
            ("train_acc", "train", train_color, "solid", 2),
            ("val_acc", "validation", val_color, "dash", 2),
        ):
            values = epochs[column]
            if not values.notna().any():
                continue
            metric = "loss" if col == 1 else "accuracy"
            figure.add_trace(
                go.Scatter(
                    x=epochs["x"],
                    y=values,
                    mode="lines+markers",
                    name=f"{prefix}{split} {metric}",
                    line={"color": color_, "dash": dash},
                    legendgroup=group,
                ),
                row=1,
                col=col,
            )
    figure.update_xaxes(title_text="epoch", rangemode="tozero", dtick=1 if last_epoch <= 20 else None)  # whole epochs
    figure.update_yaxes(title_text="cross-entropy", row=1, col=1, rangemode="tozero")
    figure.update_yaxes(title_text="accuracy", row=1, col=2, range=[0, 1], tickformat=".0%")
    figure.update_layout(height=400, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.22, "x": 0})
    return figure


def normalize_rows(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its total: entry (i, j) = share of true class i predicted as j."""
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_figure(
    confusion: Any, classes: Sequence[str], *, normalize: bool = False, title: str | None = None, clickable: bool = True
) -> go.Figure:
    """Heatmap of ``confusion[true, predicted]`` with class names on both axes and the value in each cell.

    Row-normalised, each row shows where one true class's images went (its diagonal cell is the
    class's recall), which makes rare and common classes comparable.

    Plotly cannot select heatmap cells (a click on a heatmap sends no selection), so an invisible
    marker sits on every cell centre: clicking a cell selects its marker, which a Streamlit chart
    with ``on_select`` reports; ``confusion_cell`` turns that report back into (true, predicted).
    A chart nobody clicks (the live Train page) goes without that layer: its 100 markers are a
    large part of what redrawing the figure costs the browser.
    """
    counts = np.asarray(confusion.tolist() if hasattr(confusion, "tolist") else confusion, dtype=float)
    values = normalize_rows(counts) if normalize else counts
    # empty cells stay blank so the eye goes to the mistakes, not to a wall of zeros
    text = [["" if v == 0 else f"{v:.0%}" if normalize else f"{int(v)}" for v in row] for row in values]
    names = list(classes)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalize else None,
            # with the click layer, it answers hovers, so the two never compete
            hoverinfo="skip" if clickable else None,
            hovertemplate=None if clickable else "true %{y}, predicted %{x}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%"} if normalize else {},
        )
    )
    if clickable:
        _add_click_layer(figure, names, counts)
    figure.update_xaxes(title_text="predicted class", side="bottom", tickangle=-45)
    figure.update_yaxes(title_text="true class", autorange="reversed")
    figure.update_layout(
        title=title,
        height=480,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        clickmode="event+select",
        dragmode=False,
        hovermode="closest",
        hoverdistance=-1,  # every point of a cell is closest to that cell's marker: the whole cell is clickable
    )
    return figure


def _add_click_layer(figure: go.Figure, names: list[str], counts: np.ndarray) -> None:
    """One invisible, selectable marker per cell centre (see ``confusion_figure``)."""
    cells = [(true, predicted) for true in range(len(names)) for predicted in range(len(names))]
    figure.add_trace(
        go.Scatter(
            x=[names[predicted] for _, predicted in cells],
            y=[names[true] for true, _ in cells],
            customdata=[[true, predicted, counts[true, predicted]] for true, predicted in cells],
            mode="markers",
            name=CLICK_LAYER,
            showlegend=False,
            marker={"symbol": "square", "size": 28, "color": "rgba(0,0,0,0)", "line": {"width": 0}},
            selected={"marker": {"color": "rgba(255,165,0,0.45)"}},
            unselected={"marker": {"opacity": 0}},
            hovertemplate="true %{y}, predicted %{x}: %{customdata[2]:.0f} images · click to see them<extra></extra>",
        )
    )


CLICK_LAYER = "cells"
"""Name of the confusion figure's invisible, clickable marker trace."""


def confusion_cell(selection: Mapping[str, Any] | None, classes: Sequence[str]) -> tuple[int, int] | None:
    """The (true, predicted) class indices of the confusion cell a user clicked, or None.

    ``selection`` is what ``st.plotly_chart(..., on_select="rerun")`` returns under ``selection``:
    ``{"points": [{"x": predicted name, "y": true name, ...}], ...}``. A click selects one point;
    anything else (nothing, a point off the class axes) is no cell.
    """
    points = (selection or {}).get("points") or []
    if len(points) != 1:
        return None
    point, names = points[0], list(classes)
    if point.get("x") not in names or point.get("y") not in names:
        return None
    return names.index(point["y"]), names.index(point["x"])


def class_balance_figure(per_split: Mapping[str, Mapping[str, int]]) -> go.Figure:
    """Grouped bars: images per class in each split (a balanced dataset has level bars)."""
    figure = go.Figure()
    for split, counts in per_split.items():
        if counts:
            figure.add_trace(go.Bar(x=list(counts), y=list(counts.values()), name=split))
    figure.update_layout(
        barmode="group",
        height=320,
        yaxis_title="images",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.1},
    )
    return figure


def per_class_frame(per_class: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, one row per class, in class order."""
    frame = pd.DataFrame.from_dict(per_class, orient="index", columns=["precision", "recall", "f1", "support"])
    frame.index.name = "class"
    return frame.reset_index().astype({"support": int})


def probability_figure(probabilities: Mapping[str, float], *, title: str | None = None, height: int = 300) -> go.Figure:
    """Horizontal bars of class probabilities (or soft-label weights), largest on top."""
    ordered = sorted(probabilities.items(), key=lambda item: item[1])
    figure = go.Figure(
        go.Bar(
            x=[value for _, value in ordered],
            y=[name for name, _ in ordered],
            orientation="h",
            text=[f"{value:.0%}" for _, value in ordered],
            textposition="auto",
            marker_color=TRAIN_COLOR,
        )
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    return figure
