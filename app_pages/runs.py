"""Runs: every run on disk; compare their curves and configs; resume, re-run or delete them."""

import datetime

import pandas as pd
import streamlit as st

from cifar_core.compare import config_diff
from cifar_core.plots import curves_figure
from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import launch
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors

RESUMABLE = ("interrupted", "cancelled", "failed")


def _table(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        summary = run.summary()
        created = summary["created"]
        rows.append(
            {
                "run": summary["run_id"],
                "state": summary["state"],
                "model": summary["model"],
                "epochs": f"{summary['epochs_done']}/{summary['epochs']}",
                "best val acc": summary["best_val_acc"],
                "dropout": summary["dropout"],
                "aug_p": summary["aug_p"],
                "mix_p": summary["mix_p"],
                "batch": summary["batch_size"],
                "lr": summary["lr"],
                "minutes": summary["duration_s"] / 60 if summary["duration_s"] else None,
                "created": datetime.datetime.fromtimestamp(created) if created else None,
            }
        )
    return pd.DataFrame(rows)


def _open_in_train(run_id: str) -> None:
    state.select_run(run_id)
    st.switch_page("app_pages/train.py", query_params={"run": run_id})


st.title("Runs")
st.markdown(
    "Every training run is a folder holding its settings, its metrics after every epoch and its best "
    "model. Comparing runs that differ in one setting is how you learn what that setting does: overlay "
    "their validation curves and look at the config diff."
)
store = RunStore()
runs = store.list()
if not runs:
    st.info(f"No runs yet in `{store.root}`. Start one on the Train page.")
    st.stop()
ids = [run.id for run in runs]
by_id = dict(zip(ids, runs))

st.dataframe(
    _table(runs),
    hide_index=True,
    column_config={
        "best val acc": st.column_config.NumberColumn(format="percent"),
        "minutes": st.column_config.NumberColumn(format="%.1f"),
        "created": st.column_config.DatetimeColumn(format="MMM D, HH:mm"),
    },
    key="runs_table",
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
            pd.DataFrame([(name, repr(a), repr(b)) for name, a, b in rows], columns=["setting", "run A", "run B"]),
            hide_index=True,
            key="runs_diff",
        )
    else:
        st.caption("Same configuration." if first != second else "Pick two different runs.")

st.subheader("Manage a run")
selected = state.selected_run_id()
target_id = st.selectbox("Run", ids, index=ids.index(selected) if selected in ids else 0, key="runs_target")
target = by_id[target_id]
target_state = target.state
st.caption(f"State: **{target_state}** · folder `{target.dir}`")
resume_col, rerun_col, evaluate_col = st.columns(3)
can_resume = target_state in RESUMABLE and target.checkpoint_path("last").is_file()
if resume_col.button(
    "Resume", icon=":material/play_arrow:", disabled=not can_resume,
    help="Continue an interrupted or cancelled run from its last finished epoch.",
):
    with user_errors():
        launch(target, resume=True)
        _open_in_train(target.id)
if rerun_col.button("Re-run this config", icon=":material/replay:", help="A new run with exactly the same settings."):
    with user_errors():
        new_run = store.create(target.config())
        launch(new_run)
        _open_in_train(new_run.id)
if evaluate_col.button("Evaluate", icon=":material/troubleshoot:", disabled=not target.checkpoint_path("best").is_file()):
    state.select_run(target.id)
    st.switch_page("app_pages/evaluate.py")

with st.expander("Delete this run", icon=":material/delete:"):
    confirmed = st.checkbox(f"Yes, delete `{target.id}` with its checkpoints; this cannot be undone.", key=f"runs_confirm_{target.id}")
    if st.button("Delete run", type="primary", disabled=not confirmed or target_state in ACTIVE_STATES, key="runs_delete"):
        with user_errors():
            store.delete(target.id)
            st.toast(f"Deleted {target.id}")
            st.rerun()
    if target_state in ACTIVE_STATES:
        st.caption("Cancel it on the Train page first.")
