"""Experiments: ablate augmentations or sweep hyper-parameters over seeds, and compare the variants."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from cifar_core.app.lab import OP_TITLES
from cifar_core.app.train_form import CUSTOM, form_config
from cifar_core.augment import MIX_OPS, OP_NAMES
from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.errors import CifarError
from cifar_core.figures.studies import grid_heatmap_figure, variant_bars_figure, variant_curves_figure
from cifar_core.runs import RunStore
from cifar_core.runs.health import at_chance
from cifar_core.study import (
    Study,
    StudyFolder,
    cancel_study,
    check_budget,
    estimate_study,
    launch_driver,
    list_studies,
    refresh_results,
    run_table,
    studies_root,
)
from cifar_core.study.definition import plan_study
from cifar_core.study.estimate import budget_warning, cut_short_warning
from cifar_core.study.folder import ACTIVE
from cifar_core.study.published import lesson_takeaway
from cifar_core.train import TrainConfig
from cifar_core.train.config import STUDY_OPS
from cifar_core.ui import state, studies
from cifar_core.ui.estimates import throughput
from cifar_core.ui.feedback import show_error, user_errors
from cifar_core.ui.loaders import load_data

SHOWN = "experiments_study"
LAUNCH_ERROR = "experiments_launch_error"
REFRESH_S = 2.0
CHANCE_MARK = "⚠ at chance"


def base_config() -> TrainConfig:
    """The run the Train page's form describes, by the mapping Train launches with, so a study's base is the run Train would start."""
    return form_config(state.train_form(), state.data_source())


def results_table(variants: pd.DataFrame) -> pd.DataFrame:
    """The per-variant table with accuracies in % and variants at chance level marked.

    Every heading says "± sd": the comparison table below it writes ± for a 95% interval, which is
    wider, and one variant's two ± must not read as two answers to one question.
    """
    table = pd.DataFrame({"variant": variants["variant"]})
    table["runs"] = [f"{done}/{planned}" for done, planned in zip(variants["runs_finished"], variants["runs_planned"])]
    for metric, heading, scale, digits, unit in PERCENT_COLUMNS:
        table[heading] = [
            _mean_std(mean * scale, std * scale, digits, unit) for mean, std in zip(variants[f"{metric}_mean"], variants[f"{metric}_std"])
        ]
    table["learned?"] = [
        CHANCE_MARK if at_chance(None if math.isnan(acc) else acc, len(CIFAR10_CLASSES)) else "" for acc in variants["final_val_acc_mean"]
    ]
    return table


# metric, heading, scale, digits, unit: accuracies in %, the gap in points
PERCENT_COLUMNS = (
    ("final_val_acc", "val acc (final) ± sd", 100, 1, "%"),
    ("best_val_acc", "val acc (best) ± sd", 100, 1, "%"),
    ("acc_gap", "gap train-val (points) ± sd", 100, 1, ""),
    ("final_val_loss", "val loss (final) ± sd", 1, 3, ""),
    ("epochs_to_best", "epochs to best ± sd", 1, 1, ""),
    ("wall_s", "wall s ± sd", 1, 0, ""),
)


def _mean_std(mean: float, std: float, digits: int, unit: str) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}{unit}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}{unit}"


def _launch(folder: StudyFolder) -> None:
    """Start (or resume) the study's background driver and show that study."""
    try:
        launch_driver(folder)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)
        return
    st.session_state[SHOWN] = folder.dir.name
    st.query_params["study"] = folder.dir.name


def _start(study: Study, estimate_text: str, estimate_s: float) -> None:
    """Button callback: write the study folder, then launch it (a repeated click shows the same study)."""
    path = studies_root(study.runs_root) / study.id
    if (path / "study.json").exists():
        st.session_state[SHOWN] = study.id
        return
    try:
        folder = StudyFolder.create(path, study)
        folder.update_status(estimate_s=estimate_s, estimate=estimate_text)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)
        return
    _launch(folder)


def _setup(store: RunStore) -> None:
    st.subheader("Set up a study")
    base = None
    with user_errors("The Train page's settings are not a valid run: "):
        base = base_config()
    if base is None:
        return
    st.caption(_base_sentence(base, state.train_form().preset), help=_base_help(base))
    ablate, grid = _variants(base)
    left, right = st.columns(2)
    seeds = left.number_input("Seeds per variant", step=1, **state.persist_number("experiments_seeds", 2, min_value=1, max_value=10))
    budget = right.number_input("Budget (minutes)", step=5.0, **state.persist_number("experiments_budget", 30.0, min_value=1.0))
    study = estimate = None
    with user_errors():
        study = plan_study(base, store.root, ablate=ablate, grid=grid, seeds=int(seeds))
        speed = throughput(base, store)
        images = len(load_data(base.data).splits["train"].labels)
        estimate = estimate_study(study, images, speed)
    if study is not None and estimate is not None:
        _estimate_and_start(study, estimate, budget, budget_warning(study, images, speed))


def _base_sentence(base: TrainConfig, recipe: str) -> str:
    """The Train page's run that every variant starts from, in one line."""
    return (
        f"Base run (from the Train page): **{base.model}**, {base.epochs} epoch(s), {base.limit or 'all'} images, "
        f"batch {base.batch_size}, lr {base.lr:g}, dropout {base.dropout:g}, aug_p {base.aug_p:g}, "
        f"mix_p {base.mix_p:g}, seed {base.seed}; {base.optimizer}, {base.schedule} schedule, label smoothing "
        f"{base.label_smoothing:g}"
        + (f", {base.budget_minutes:g}-min budget" if base.budget_minutes else "")
        + ("" if recipe == CUSTOM else f" (the {recipe} recipe)")
        + "."
    )


# what each learning-rate schedule does over a run, in plain words
SCHEDULE_WORDS = {
    "constant": "the learning rate stays at its set value (after any warm-up)",
    "cosine": "after any warm-up, the learning rate falls along a smooth curve to zero by the end",
    "onecycle": "the learning rate rises over the warm-up, then falls in a straight line to zero by the end",
    "triangle": "the learning rate rises from 20% to its peak over the first 23% of the run, then falls to 7% by the end",
}


def _base_help(base: TrainConfig) -> str:
    """The base run's jargon (schedule, label smoothing) in plain words, for the sentence's help."""
    smoothing = (
        f"Label smoothing {base.label_smoothing:g}: the target gives {base.label_smoothing:g} of its probability to the "
        "other classes instead of all of it to the right one, so the model learns to be less over-confident."
        if base.label_smoothing
        else "No label smoothing: the target puts all its probability on the right class."
    )
    return f"{base.schedule.capitalize()} schedule: {SCHEDULE_WORDS.get(base.schedule, 'see the Train page')}.\n\n{smoothing}"


def _variants(base: TrainConfig) -> tuple[list[str] | None, str | None]:
    """(ops to ablate, None) or (None, grid text), as the user chose the study's kind."""
    kind = st.radio(
        "Study",
        ["Ablation of augmentations", "Grid of settings"],
        horizontal=True,
        **state.persist("experiments_kind", "Ablation of augmentations"),
    )
    if not kind.startswith("Ablation"):
        grid = st.text_input(
            "Grid: field=values, fields separated by ';'",
            **state.persist("experiments_grid", "aug_p=0.03,0.06;mix_p=0.01,0.02,0.03"),
            help="Any Train setting, e.g. lr=0.0005,0.001;dropout=0,0.2. Every combination is trained.",
        )
        return None, grid
    # chips wrap onto more rows (in a column they would stay in one scrolling row, cut off at its edge);
    # by default only the study ops the base applies at all, so a base with mix_p 0 (classroom) does not open on an error
    applied = [op for op in STUDY_OPS if (base.mix_p if op in MIX_OPS else base.aug_p) > 0]
    ablate = st.multiselect(
        "Augmentations to ablate",
        list(OP_NAMES),
        **state.persist("experiments_ops", applied),
        format_func=OP_TITLES.get,
        help="Variants: none, each alone, all but one, all. Probabilities stay the base's aug_p and mix_p.",
        wrap=True,
    )
    return ablate, None


def _estimate_and_start(study: Study, estimate, budget: float, too_short: str | None) -> None:
    """The plan, its estimated time against the budget, and the Start button (disabled over the budget)."""
    st.markdown(f"**{len(study.variants)} variant(s) × {len(study.seeds)} seed(s):** " + ", ".join(f"`{v.name}`" for v in study.variants))
    st.metric("Estimated time", f"{estimate.minutes:.1f} min")
    st.caption(f"Estimate: {estimate.describe()}. Other work on this machine slows it down.")
    over = None
    try:
        check_budget(estimate, budget)
    except CifarError as exc:
        over = str(exc)
        show_error(over)
    if too_short:
        st.warning(too_short)
    if error := st.session_state.pop(LAUNCH_ERROR, None):
        show_error(error)
    st.button(
        "Start study",
        type="primary",
        icon=":material/science:",
        disabled=over is not None,
        width="stretch",
        on_click=_start,
        args=(study, estimate.describe(), estimate.total_s),
    )


def _shown_study(folders: list[StudyFolder]) -> StudyFolder | None:
    """The study to show: the picker's, else the URL's, else the newest."""
    names = [folder.dir.name for folder in folders]
    if not names:
        return None
    for wanted in (st.session_state.get(SHOWN), st.query_params.get("study"), names[0]):
        if wanted in names:
            st.session_state[SHOWN] = wanted
            break
    chosen = st.selectbox("Study", names, key=SHOWN)
    return folders[names.index(chosen)]


def _live(folder: StudyFolder, was_active: bool) -> None:
    """Everything read from the study and run folders; reruns on a timer while the study runs."""
    status = folder.status()
    if was_active and status["state"] not in ACTIVE:
        st.rerun()  # finished: redraw once without the timer
    study = folder.study()
    runs = run_table(study)
    variants = refresh_results(folder)
    done = int((runs["state"] == "finished").sum())
    _study_status(folder, study.id, status, runs, done)
    st.subheader("Results")
    _results(folder, study, runs, variants, done)
    _curves(folder, study, runs)
    with st.expander("Study definition"):
        st.json(study.to_dict(), expanded=False)


def _study_status(folder: StudyFolder, study_id: str, status: dict, runs: pd.DataFrame, done: int) -> None:
    """Its state, how many runs finished, Cancel or Resume, and the runs' own states."""
    st.markdown(f"### `{study_id}` · {status['state']}")
    if status.get("estimate"):
        st.caption(f"Estimated at launch: {status['estimate']}.")
    if status["state"] in ("failed", "interrupted"):
        show_error(f"The study {status['state']}: {status.get('error') or 'no reason recorded'}. Its log is in {folder.log_path}.")
    st.progress(done / len(runs), text=f"{done} of {len(runs)} runs finished")
    if status["state"] in ACTIVE:
        st.button("Cancel study", icon=":material/stop:", on_click=cancel_study, args=(folder,), key=f"cancel_{study_id}")
    elif done < len(runs):
        st.button(
            "Resume study",
            icon=":material/play_arrow:",
            on_click=_launch,
            args=(folder,),
            key=f"resume_{study_id}",
            help="Trains the runs that have not finished; an interrupted run goes on from its last epoch.",
        )
    with st.expander("Runs: done, running, waiting", expanded=status["state"] in ACTIVE):
        st.dataframe(runs[["variant", "seed", "state", "epochs_done", "run_id"]], hide_index=True)


def _results(folder: StudyFolder, study: Study, runs: pd.DataFrame, variants: pd.DataFrame, done: int) -> None:
    """The per-variant table, its warnings and, once a run finished, the conclusions and their charts."""
    if short := cut_short_warning(runs.to_dict("records"), study.base.epochs):
        st.warning(short)
    table = results_table(variants)
    st.dataframe(table, hide_index=True, width="stretch")
    if (table["learned?"] == CHANCE_MARK).any():
        st.warning(
            "Variants marked ⚠ stayed at chance level (10% for 10 classes): they did not learn, so comparing them "
            "says nothing about the settings. Give the base run more images or epochs, or use the classroom recipe."
        )
    st.caption(
        f"Mean ± sd (standard deviation) over finished seeds: how far one seed's run strays. The table below "
        "gives ± as a 95% interval for the mean, which is wider. CSV: `{folder.results_path}` (per variant), "
        f"`{folder.run_results_path}` (per run)."
    )
    if not done:
        return
    studies.study_conclusions(runs, study.reference_variant, [variant.name for variant in study.variants])
    st.plotly_chart(variant_bars_figure(variants, runs), key=f"bars_{study.id}")
    if study.kind == "grid" and len(study.axes) == 2:
        x_field, y_field = list(study.axes)
        st.plotly_chart(grid_heatmap_figure(variants, x_field, y_field), key=f"heatmap_{study.id}")


def _curves(folder: StudyFolder, study: Study, runs: pd.DataFrame) -> None:
    """Every variant's runs' curves overlaid, and the curves a teacher reads out."""
    store = folder.store()
    curves = {
        variant.name: [run.events() for p in study.runs if p.variant == variant.name and (run := store.find(p.run_id)) is not None]
        for variant in study.variants
    }
    if any(curves.values()):
        metric = st.radio(
            "Curves", ["acc", "loss"], horizontal=True, key=f"metric_{study.id}", format_func=lambda m: "accuracy" if m == "acc" else "loss"
        )
        st.plotly_chart(variant_curves_figure(curves, metric=metric), key=f"curves_{study.id}")
    studies.teaching_curves(curves, runs, study.reference_variant, [variant.name for variant in study.variants], key=study.id)


st.title("Experiments")
st.markdown(
    "An **ablation** trains the same model several times, switching augmentations on and off: none, each "
    "alone, all but one, and all. Compare a variant with *none* to see what an augmentation adds on its own, "
    "and *all* with *all but X* to see what X adds on top of the others. A **grid** does the same for settings "
    "such as aug_p and mix_p. Read two numbers together: validation accuracy (higher is better) and the "
    "**gap** between training and validation accuracy (smaller means less memorisation; augmentation also "
    "makes the training images harder, which lowers training accuracy and so the gap by itself).\n\n"
    "**Why more than one seed?** The seed decides the starting weights, the order of the images and every "
    "random augmentation (all variants and seeds of a study validate on the same images). Two runs that "
    "differ only in their seed often differ by a point or two of accuracy, so a one-seed difference of that "
    "size may be luck. With several seeds the table shows mean ± standard deviation and the chart shows each "
    "seed as a dot: trust a difference only when it is clearly larger than that spread."
)
st.info(f"**What augmentation does, in five minutes** (the published lesson study): {lesson_takeaway()}")
store = RunStore()
setup_column, results_column = st.columns([1, 2], gap="large")
yours, published = results_column.tabs(["Your studies", "Published studies"])
with published:
    studies.published_viewer()
with yours:
    shown = _shown_study(list_studies(store.root))
    if shown is None:
        st.info("No studies yet: set one up on the left and press **Start study**.")
    else:
        if st.query_params.get("study") != shown.dir.name:
            st.query_params["study"] = shown.dir.name
        is_active = shown.status()["state"] in ACTIVE
        with user_errors():
            st.fragment(_live, run_every=REFRESH_S if is_active else None)(shown, is_active)
with setup_column:  # last: its speed probe takes seconds, and the studies beside it need none
    studies.named_study_picker(store, throughput, _start)
    _setup(store)
