"""The sidebar every page shares: which data is loaded and which run is selected."""

from __future__ import annotations

import streamlit as st

from cifar_core.errors import CifarError
from cifar_core.runs import RunStore
from cifar_core.ui import state


def render_sidebar() -> None:
    """Draw the data badge and the run picker (before the page, so pages can read the selection)."""
    with st.sidebar:
        source = state.data_source()
        if state.is_synthetic():
            st.warning("**Data: SYNTHETIC demo set** — drawn shapes, not CIFAR-10.", icon=":material/science:")
        else:
            st.success(f"**Data: CIFAR-10** from `{source}`", icon=":material/dataset:")
        _run_picker()


def _run_picker() -> None:
    store = RunStore()
    try:
        runs = store.list()  # a damaged run is listed as "damaged"; only an unreadable runs folder raises
    except CifarError as exc:
        st.warning(str(exc))
        return
    states = {run.id: run.state for run in runs}
    ids = list(states)
    pending = state.take_pending_run()
    if pending in states:
        st.session_state[state.SELECTED_RUN] = pending
    elif st.session_state.get(state.SELECTED_RUN) not in states:
        st.session_state[state.SELECTED_RUN] = ids[0] if ids else None
    if not ids:
        st.caption(f"No runs yet in `{store.root}`: start one on the Train page.")
        return
    st.selectbox(
        "Selected run",
        ids,
        key=state.SELECTED_RUN,
        format_func=lambda run_id: f"{run_id} · {states[run_id]}",
        help="The run the Evaluate page scores. Runs are folders in " + str(store.root),
    )
