"""Robustness: does a run still know a cat when the cat is rotated, shifted, noisy or blurred?

Scores one run (optionally a second, side by side) on the same images under every transform of
``cifar_core.robustness.TRANSFORMS``; results are cached per checkpoint version, split and size.
"""

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
import torch

from cifar_core.errors import CifarError
from cifar_core.figures.images import upscale_many
from cifar_core.robustness import TRANSFORMS, score_model, scoring_images
from cifar_core.runs import Run, RunStore
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.ui import state
from cifar_core.ui.feedback import show_error
from cifar_core.ui.loaders import checkpoint_stamp, load_data, load_model
from cifar_core.ui.pixels import show_pixels

NONE = "(none)"


@st.cache_data(show_spinner=False, max_entries=16)
def robustness_report(run_dir: str, stamp: int, split: str, limit: int) -> dict:
    """``RobustnessResult.to_json()`` of one run on the first ``limit`` images of ``split``; ``stamp`` keys the cache."""
    loaded = load_model(run_dir, "best", stamp)
    images, labels = scoring_images(loaded, load_data(loaded.config.data), split)
    bar = st.progress(0.0, text="Scoring the transformed images…")
    result = score_model(loaded, images[:limit], labels[:limit], progress=lambda done, total, label: bar.progress(done / total, text=label))
    bar.empty()
    return result.to_json()


def heatmap(report: dict, title: str) -> go.Figure:
    names = list(report["transforms"])
    width = max(len(row["severities"]) for row in report["transforms"].values())
    z = [[None] * width for _ in names]
    text = [[""] * width for _ in names]
    for i, name in enumerate(names):
        for severity, cell in report["transforms"][name]["severities"].items():
            z[i][int(severity) - 1] = 100 * cell["accuracy"]
            # the strength in words ("JPEG quality 80"): a bare "80" or "0.95" says nothing about what was done
            text[i][int(severity) - 1] = f"{100 * cell['accuracy']:.0f}%<br>{TRANSFORMS[name].label(int(severity))}"
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"severity {s}" for s in range(1, width + 1)],
            y=names,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=100,
            colorscale="Viridis",
            colorbar={"title": "accuracy", "ticksuffix": "%"},
            hovertemplate="%{y}, %{x}: %{z:.1f}%<extra></extra>",
        )
    )
    margin = {"l": 10, "r": 10, "t": 40, "b": 10}
    figure.update_layout(title=title, height=80 + 32 * len(names), yaxis={"autorange": "reversed"}, margin=margin)
    return figure


def show_run(column, run: Run, split: str, limit: int) -> dict | None:
    with column:
        if run.state in ACTIVE_STATES:
            show_error(f"Run {run.id} is still {run.state}; score its robustness once it has finished.")
            return None
        try:
            report = robustness_report(str(run.dir), checkpoint_stamp(run, "best"), split, limit)
        except CifarError as exc:
            show_error(str(exc))
            return None
        mca = "n/a" if report["mca"] is None else f"{report['mca']:.1%}"
        left, right = st.columns(2)
        left.metric("Clean accuracy", f"{report['clean_accuracy']:.1%}")
        right.metric("Mean corruption accuracy", mca, help="mean over every corruption × severity (CIFAR-10-C's mCA)")
        st.plotly_chart(heatmap(report, f"{run.id}: accuracy on {report['n']:,} {split} images"), key=f"robustness_heat_{run.id}")
        return report


st.title("Robustness")
st.caption(
    "The same images, rotated, flipped, shifted, cropped and corrupted as in CIFAR-10-C (Hendrycks & Dietterich, 2019), "
    "with fixed seeds, so every run sees exactly the same images."
)
runs = [run for run in RunStore().list() if Path(run.checkpoint_path("best")).exists()]
if not runs:
    st.info("No run with a checkpoint yet: train one on the Train page, then come back.")
    st.stop()
ids = [run.id for run in runs]
by_id = dict(zip(ids, runs))
pick, other, split_column, size_column = st.columns([3, 3, 2, 2])
first = pick.selectbox("Run", ids, key=state.ROBUSTNESS_RUN)
second = other.selectbox("Compare with", [NONE, *[i for i in ids if i != first]], key=state.ROBUSTNESS_OTHER)
split = split_column.radio("Images", ("val", "test"), horizontal=True, key="robustness_split")
limit = size_column.number_input("How many", min_value=10, max_value=10_000, value=1000, step=100, key="robustness_limit")

shown = [first] if second == NONE else [first, second]
columns = st.columns(len(shown))
reports = [show_run(column, by_id[run_id], split, int(limit)) for column, run_id in zip(columns, shown)]

if reports[0] is not None:
    st.subheader("One image at each severity")
    name = st.selectbox("Transform", list(TRANSFORMS), index=list(TRANSFORMS).index("gaussian_noise"), key="robustness_example")
    loaded = load_model(str(by_id[first].dir), "best", checkpoint_stamp(by_id[first], "best"))
    images, _ = scoring_images(loaded, load_data(loaded.config.data), split)
    transform = TRANSFORMS[name]
    example = images[:1]
    pictures = [example[0]] + [transform(example, s)[0] for s in transform.severities]
    captions = ["clean"] + [transform.label(s) for s in transform.severities]
    show_pixels(st, upscale_many(torch.stack(pictures), 4), caption=captions, width=128)
