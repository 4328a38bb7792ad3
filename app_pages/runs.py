"""Runs: every run on disk; compare their curves and configs; name, resume, re-run or delete them."""

import datetime
import os
import tempfile
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.export import FORMATS, export_run
from cifar_core.figures.runs import curves_figure
from cifar_core.runs import Run, RunStore
from cifar_core.runs.compare import config_diff, readable_value
from cifar_core.runs.health import chance_warning
from cifar_core.runs.notes import RunNotes, read_notes, write_notes
from cifar_core.runs.process import launch
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.study import list_studies
from cifar_core.ui import browser, permissions, state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import load_data
from cifar_core.ui.runlist import cached, run_state

RESUMABLE = ("interrupted", "cancelled", "failed")
REFRESH_S = 2.0
CHANCE_MARK = "⚠ at chance"
# Pixel widths that fit the run and its result beside the sidebar at 1366 px (about 880 px);
# the settings columns, which would be cut at the edge, start hidden.
TABLE_WIDTHS = {
    "run": 220,
    "name": 80,
    "state": 80,
    "model": 100,
    "epochs": 55,
    "best val acc": 90,
    "learned?": 85,
    "minutes": 60,
    "created": 100,
    "study": 90,
    "processes": 80,
}
SETTING_COLUMNS = ("dropout", "aug_p", "mix_p", "batch", "lr")


def _row(run: Run, study_runs: dict[str, str]) -> dict[str, Any]:
    summary = run.summary()
    created = summary["created"]
    events = run.events()
    progress = run.progress()
    epochs = [event for event in events if event["type"] == "epoch"]
    at_chance = chance_warning(epochs, len(CIFAR10_CLASSES), finished=summary["state"] == "finished")
    return {
        "run": summary["run_id"],
        "name": read_notes(run).name,
        "state": summary["state"],
        "model": summary["model"],
        "epochs": f"{progress.epochs_done}/{progress.epochs_planned}",
        "best val acc": None if summary["best_val_acc"] is None else 100 * summary["best_val_acc"],
        "learned?": CHANCE_MARK if at_chance else "",
        "minutes": summary["duration_s"] / 60 if summary["duration_s"] else None,
        "created": datetime.datetime.fromtimestamp(created) if created else None,
        "study": study_runs.get(run.id, ""),
        "processes": next((event.get("world_size", 1) for event in reversed(events) if event["type"] == "start"), 1),
        # the settings last: hidden in the table at first (SETTING_COLUMNS), and in the config diff below
        "dropout": summary["dropout"],
        "aug_p": summary["aug_p"],
        "mix_p": summary["mix_p"],
        "batch": summary["batch_size"],
        "lr": summary["lr"],
    }


def _table(runs: list[Run], study_runs: dict[str, str]) -> None:
    """The runs table; redrawn every few seconds while one of them trains."""
    frame = pd.DataFrame(
        [cached(run, "row:" + study_runs.get(run.id, ""), lambda run: _row(run, study_runs), itemgetter("state")) for run in runs]
    )
    if not study_runs:
        frame = frame.drop(columns="study")
    if (frame["processes"] == 1).all():  # shown only where a run trained under torchrun
        frame = frame.drop(columns="processes")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            **{name: st.column_config.Column(width=width) for name, width in TABLE_WIDTHS.items()},
            "best val acc": st.column_config.NumberColumn(format="%.1f%%", width=TABLE_WIDTHS["best val acc"]),
            "minutes": st.column_config.NumberColumn(format="%.1f", width=TABLE_WIDTHS["minutes"]),
            "created": st.column_config.DatetimeColumn(format="MMM D HH:mm", width=TABLE_WIDTHS["created"]),
            **dict.fromkeys(SETTING_COLUMNS),  # None: hidden until shown with the table's Show/hide columns button
        },
        key="runs_table",
    )
    st.caption(
        f"The settings ({', '.join(SETTING_COLUMNS)}) are hidden so the table fits: show them with the "
        "“Show/hide columns” button above the table's top right corner (it appears under the mouse), or pick "
        "two runs below to compare every setting."
    )


def _open_in_train(run_id: str) -> None:
    state.select_run(run_id)
    st.switch_page("app_pages/train.py", query_params={"run": run_id})


def _save_notes(run: Run) -> None:
    with user_errors():
        write_notes(run, RunNotes(st.session_state[f"runs_name_{run.id}"], st.session_state[f"runs_notes_{run.id}"]))
        st.toast(f"Saved the name and notes of {run.id}")


st.title("Runs")
st.markdown(
    "Every training run is a folder holding its settings, its metrics after every epoch and its best "
    "model. Comparing runs that differ in one setting is how you learn what that setting does: overlay "
    "their validation curves and look at the config diff."
)
store = RunStore()
all_runs = store.list()
if not all_runs:
    st.info(f"No runs yet in `{store.root}`. Start one on the Train page.")
    st.stop()
study_runs = {planned.run_id: folder.dir.name for folder in list_studies(store.root) for planned in folder.study().runs}
in_studies = sum(run.id in study_runs for run in all_runs)
show_studies = in_studies > 0 and st.toggle(f"Show the runs of experiments ({in_studies})", **state.persist("runs_show_studies", False))
runs = [run for run in all_runs if show_studies or run.id not in study_runs] or all_runs
ids = [run.id for run in runs]
by_id = dict(zip(ids, runs))
training = any(run_state(run) in ACTIVE_STATES for run in runs)  # cached while settled: a thousand runs stay quick
st.fragment(_table, run_every=REFRESH_S if training else None)(runs, study_runs if show_studies else {})
st.caption(
    "Accuracy in %. “⚠ at chance” marks a run that did not learn (validation accuracy near 10%)."
    + (" The table refreshes while a run trains." if training else "")
)

st.subheader("Compare curves")
with_epochs = [run.id for run in runs if run.events("epoch")]
chosen = st.multiselect("Runs to overlay", ids, default=with_epochs[:3], key="runs_overlay")
if chosen:
    st.plotly_chart(curves_figure({run_id: by_id[run_id].events() for run_id in chosen}, show_steps=False), key="runs_curves")

st.subheader("Config diff")
left, right = st.columns(2)
first = left.selectbox("Run A", ids, key="runs_diff_a")
second = right.selectbox("Run B", ids, index=min(1, len(ids) - 1), key="runs_diff_b")
with user_errors():
    rows = config_diff(by_id[first].config().to_dict(), by_id[second].config().to_dict())
    if rows:
        st.dataframe(
            pd.DataFrame([(name, readable_value(a), readable_value(b)) for name, a, b in rows], columns=["setting", "run A", "run B"]),
            hide_index=True,
            width="stretch",
            key="runs_diff",
        )
    else:
        st.caption("Same configuration." if first != second else "Pick two different runs.")
if first != second and st.button("Compare on the same images", icon=":material/compare:"):
    st.session_state[state.COMPARE_RUN_A], st.session_state[state.COMPARE_RUN_B] = first, second
    st.switch_page("app_pages/compare.py")

st.subheader("Manage a run")
selected = state.selected_run_id()
target_id = st.selectbox("Run", ids, index=ids.index(selected) if selected in ids else 0, key="runs_target")
target = by_id[target_id]
target_state = target.state
st.caption(f"State: **{target_state}** · folder `{target.dir}`")
if warning := chance_warning(target.events("epoch"), len(CIFAR10_CLASSES), finished=target_state == "finished"):
    st.warning(warning, icon=":material/warning:")
notes = read_notes(target)
with st.expander("Name and notes", icon=":material/edit_note:", expanded=bool(notes.name or notes.notes)):
    st.text_input("Name", value=notes.name, max_chars=80, key=f"runs_name_{target.id}", placeholder="e.g. no rotation, seed 1")
    st.text_area("Notes", value=notes.notes, max_chars=4000, key=f"runs_notes_{target.id}", height=80)
    st.button("Save", on_click=_save_notes, args=(target,), key=f"runs_save_notes_{target.id}")
allowed = permissions.may_manage(target.id)
if not allowed:
    st.caption(permissions.refusal(target.id))
resume_col, rerun_col, evaluate_col = st.columns(3)
can_resume = target_state in RESUMABLE and target.checkpoint_path("last").is_file() and allowed
if resume_col.button(
    "Resume",
    icon=":material/play_arrow:",
    disabled=not can_resume,
    help="Continue an interrupted or cancelled run from its last finished epoch.",
):
    with user_errors():
        launch(target, resume=True)
        _open_in_train(target.id)
if rerun_col.button("Re-run this config", icon=":material/replay:", help="A new run with exactly the same settings."):
    with user_errors():
        new_run = store.create(target.config())
        browser.add_own_run(new_run.id)
        launch(new_run)
        _open_in_train(new_run.id)
if evaluate_col.button("Evaluate", icon=":material/troubleshoot:", disabled=not target.checkpoint_path("best").is_file()):
    state.select_run(target.id)
    st.switch_page("app_pages/evaluate.py")

EXPORTED = f"runs_exported_{target.id}"
with st.expander("Export the model", icon=":material/ios_share:"):
    st.caption(
        "A file other tools run (ONNX Runtime, or PyTorch's TorchScript): it takes 32×32 RGB images as bytes and "
        "returns the ten class scores, with the model's own normalisation inside. It is kept only if it gives "
        "PyTorch's answers on the run's own images."
    )
    export_format = st.radio("Format", FORMATS, horizontal=True, key=f"runs_export_format_{target.id}")
    if st.button("Export", icon=":material/ios_share:", disabled=not target.checkpoint_path("best").is_file(), key="runs_export"):
        with user_errors():
            data = load_data(target.config().data)
            images = data.splits["train" if "train" in data.splits else "test"].images
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / f"{target.id}.{'onnx' if export_format == 'onnx' else 'pt'}"
                report = export_run(target, export_format, out, images=images)
                st.session_state[EXPORTED] = (out.name, out.read_bytes(), report.parity_images, report.max_abs_diff)
    if exported := st.session_state.get(EXPORTED):
        name, payload, checked, difference = exported
        st.download_button(f"Download {name}", payload, file_name=name, icon=":material/download:", key="runs_export_download")
        st.caption(f"Checked on {checked} of the run's images: largest difference from PyTorch {difference:.1e}.")

with st.expander("Delete this run", icon=":material/delete:"):
    confirmed = st.checkbox(f"Yes, delete `{target.id}` with its checkpoints; this cannot be undone.", key=f"runs_confirm_{target.id}")
    if st.button("Delete run", type="primary", disabled=not confirmed or target_state in ACTIVE_STATES or not allowed, key="runs_delete"):
        with user_errors():
            store.delete(target.id)
            st.toast(f"Deleted {target.id}")
            st.rerun()
    if target_state in ACTIVE_STATES:
        st.caption("Cancel it on the Train page first.")
if permissions.rule_on() and os.environ.get(permissions.TEACHER_ENV) and not permissions.is_teacher():
    with st.expander("Teacher", icon=":material/school:"):
        given = st.text_input("Teacher key", type="password", key=permissions.KEY_BOX, help="Lets this browser manage every run.")
        if given and not permissions.try_teacher_key(given):
            st.error("That is not this server's teacher key.")
        elif given:
            st.rerun()
