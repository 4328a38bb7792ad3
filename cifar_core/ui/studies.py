"""The Experiments page's study pieces: the named-study picker, the published-study viewer, and
what every study shows once runs finish (the conclusion in sentences computed from the numbers,
curves with the gap shaded, and how much each variant over-fits).

The page calls these; they read studies through ``cifar_core.study`` and never train anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from cifar_core.figures.studies import (
    gap_curves_figure,
    grid_heatmap_figure,
    interval_bars_figure,
    labels_past_intervals,
    ticks_on_every_panel,
)
from cifar_core.runs import RunStore
from cifar_core.study import Study, Throughput, estimate_study
from cifar_core.study.catalog import NAMED_STUDIES
from cifar_core.study.estimate import budget_warning
from cifar_core.study.lesson import takeaway
from cifar_core.study.published import GRID_METRIC, LESSON, PublishedStudy, grid_cells, grid_spread, list_published
from cifar_core.study.stats import compare_variants, comparison_table, conclusion
from cifar_core.train import TrainConfig
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import load_data

NAMED_KEY = "experiments_named"
SIZE_KEY = "experiments_named_size"
# How big a named study runs from the page: as published, or a quick look for a lesson (minutes, not tens of them).
SIZES: dict[str, dict[str, Any]] = {"as published": {}, "quick look (2 epochs, 500 images)": {"epochs": 2, "limit": 500}}
PUBLISHED_KEY = "experiments_published"
# (config, runs store) -> measured speed: the page's cached speed probe (ui/estimates.throughput)
SpeedFor = Callable[[TrainConfig, RunStore], Throughput]
# (study, estimate text, estimate seconds) -> None: the page's "create and launch" callback
StartStudy = Callable[[Study, str, float], None]


def named_study_picker(store: RunStore, speed_for: SpeedFor, start: StartStudy) -> None:
    """Pick one of the named studies, see its question and estimate on this machine, start it."""
    st.subheader("Named studies")
    st.caption(
        "Ready-made studies of the reference study's question: which regularisation helps a model that "
        "over-fits? Each trains every variant over 3 seeds and compares it with its reference, seed by seed."
    )
    names = list(NAMED_STUDIES)
    name = st.selectbox("Named study", names, **state.persist(NAMED_KEY, names[0]))
    named = NAMED_STUDIES[name]
    st.markdown(named.description)
    size = st.radio(
        "Size",
        list(SIZES),
        horizontal=True,
        **state.persist(SIZE_KEY, "as published"),
        help="A quick look trains too briefly to over-fit: its numbers show the machinery, not the answer.",
    )
    study = estimate = None
    with user_errors():
        study = named.plan(store.root, data=state.data_source(), **SIZES[size])
        speed = speed_for(study.base, store)
        estimate = estimate_study(study, len(load_data(study.base.data).splits["train"].labels), speed)
    if study is None or estimate is None:
        return
    st.caption(
        f"{len(study.variants)} variants × {len(study.seeds)} seeds, compared with `{study.reference_variant}`; {estimate.describe()}."
    )
    if warning := budget_warning(study, len(load_data(study.base.data).splits["train"].labels), speed):
        st.warning(warning)
    st.button(
        f"Start {name} (about {estimate.minutes:.0f} min)",
        icon=":material/science:",
        key=f"start_named_{name}",
        on_click=start,
        args=(study, estimate.describe(), estimate.total_s),
        width="stretch",
    )


# short headings for the comparison table that still say which ± it is (the results table above writes ± sd)
TABLE_HEADINGS = {"val acc (mean ± 95% CI)": "val acc ± 95% CI"}


def study_conclusions(runs: pd.DataFrame, reference: str, variants: Sequence[str]) -> None:
    """The conclusion sentence, one sentence per variant, and the table of means and paired differences."""
    comparisons = compare_variants(runs, reference, variants=variants)
    st.markdown(f"**{conclusion(comparisons)}**")
    st.markdown("\n".join(f"- {c.sentence()}" for c in comparisons if c.difference is not None))
    table = comparison_table(comparisons)
    # the reference is named in the caption: a grid's long variant names in the heading would push the verdict out of view
    table = table.rename(columns={**TABLE_HEADINGS, f"vs {reference} (paired, points)": "vs reference, points ± 95% CI"})
    # a static table wraps its cells to the column, where a grid's fixed pixel widths cut the verdict off at 1,366 px
    st.table(table, hide_index=True)
    st.caption(
        f"Validation accuracy at the last epoch, mean ± 95% t-interval over seeds. Each variant is compared "
        f"with *{reference}* seed by seed (same seed, same validation images); a difference is called only "
        "where its 95% interval excludes zero."
    )


def teaching_curves(
    curves: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]], runs: pd.DataFrame, reference: str, variants: Sequence[str], key: str
) -> None:
    """Train and validation curves per variant with the gap shaded, and the final gap per variant."""
    if any(curves.values()):
        st.markdown(
            "**Train and validation accuracy per variant** (mean over seeds; shaded: the gap, what the model "
            "memorised about its training images that did not carry over to new ones)"
        )
        st.plotly_chart(ticks_on_every_panel(gap_curves_figure(curves)), key=f"gap_curves_{key}")
    values = compare_variants(runs, reference, variants=variants)
    if any(c.value.n for c in values):
        gaps = compare_variants(runs, reference, metric="acc_gap", variants=variants)
        st.markdown("**How much does it over-fit?** Validation accuracy beside the final gap per variant")
        st.plotly_chart(labels_past_intervals(interval_bars_figure(values, gaps)), key=f"overfit_{key}")
        st.caption(
            "Right: final training accuracy minus validation accuracy. Training accuracy is measured on the "
            "augmented images, so strong augmentation lowers it by itself: read the gap together with "
            "validation accuracy on the left."
        )


def published_viewer() -> None:
    """Open a study published with the project (docs/studies): instant, no training.

    Entries are told apart by folder, size and device: one named study may be published twice
    (the 5,000-image CPU ablation and the full-size one from a GPU).
    """
    published = list_published()  # the named studies' order (the lesson first), then anything else by folder
    if not published:
        st.info("No published studies are shipped with this copy of the project.")
        return
    folders = [study.dir.name for study in published]
    labels = {study.dir.name: study.label for study in published}
    chosen = st.selectbox("Published study", folders, format_func=labels.__getitem__, **state.persist(PUBLISHED_KEY, folders[0]))
    study = published[folders.index(chosen)]
    definition = study.definition
    st.markdown(definition.get("description") or "")
    st.markdown(f"**This copy:** {_size_sentence(study)}")
    planned = len(definition.get("runs", []))
    seeds = sorted(study.runs["seed"].unique().tolist())
    environment = definition.get("environment", {})
    threads = f", {environment['cpu_threads']} torch thread(s) per run" if study.device == "CPU" and environment.get("cpu_threads") else ""
    st.caption(
        f"{len(study.runs)} of {planned} runs finished (seeds {', '.join(map(str, seeds))}) on {study.device}{threads}, torch "
        f"{environment.get('torch', '?')}. Made with:"
    )
    st.code(study.command, language="bash", wrap_lines=True)  # a block: command.txt may hold several lines and a # note
    if study.name == LESSON:
        st.success(takeaway(study.runs, study.reference, study.variants))
    study_conclusions(study.runs, study.reference, study.variants)
    cells = grid_cells(definition, study.runs)
    if cells is not None:
        frame, x_field, y_field = cells
        st.markdown(f"**Validation accuracy over the grid** (mean ± 95% interval over seeds; {x_field} across, {y_field} down)")
        st.caption(grid_spread(frame))
        st.plotly_chart(grid_heatmap_figure(frame, x_field, y_field, metric=GRID_METRIC), key=f"published_heatmap_{chosen}")
    teaching_curves(study.curve_events(), study.runs, study.reference, study.variants, key=f"published_{chosen}")
    with st.expander("Per run: variant, seed, final accuracies"):
        st.dataframe(study.runs[["variant", "seed", "final_train_acc", "final_val_acc", "acc_gap", "epochs_done"]], hide_index=True)
    with st.expander("Study definition (base config, variants, seeds)"):
        st.json(definition, expanded=False)


def _size_sentence(study: PublishedStudy) -> str:
    """``50,000 images (40,000 train / 10,000 validation), 10 epochs, 5 seeds, on NVIDIA H100 …``, and whether
    that is the named study's default size (the description above is written for the default)."""
    sentence = study.size.replace(" images,", f" images ({study.split}),", 1) if study.split else study.size
    sentence += f", on {study.device}."
    named = NAMED_STUDIES.get(study.name)
    if named is not None:
        base = study.definition.get("base", {})
        default = named.config()
        if (base.get("limit"), base.get("epochs"), len(study.definition.get("seeds", []))) != (default.limit, default.epochs, named.seeds):
            sentence += (
                f" Not the named study's default size ({default.limit:,} images, {default.epochs} epochs, "
                f"{named.seeds} seeds) that the description above is written for."
            )
    return sentence
