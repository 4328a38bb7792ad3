"""The sidebar every page shares: which data is loaded and which run is selected.

The run picker lists this browser's own runs first, then the other runs, newest first, and each
study as one entry (its runs in a second picker), so a 30-run study never buries a student's
runs. The selection itself lives in ``state.SELECTED_RUN``, a plain session key saved for this
browser: the pickers only show and change it, so a new run elsewhere, a study or a reload never
moves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import streamlit as st

from cifar_core.errors import CifarError
from cifar_core.runs import Run, RunStore
from cifar_core.runs.notes import read_notes
from cifar_core.study import list_studies
from cifar_core.ui import browser, state
from cifar_core.ui.runlist import cached, run_state

PICK = "sidebar_run"  # the first picker: a run id or a study entry
STUDY_PICK = "sidebar_study_run"  # the second picker: a run of the chosen study
STUDY_ENTRY = "study:"
LABEL_FITS = 26  # characters the sidebar's picker shows at its default width
# Ids the store makes: <model>-<yyyymmdd>-<hhmmss>-<4 hex>, a study's runs a suffix after that.
_STAMPED = re.compile(r"^(?P<what>.+?)-(?P<date>\d{8})-(?P<time>\d{6})-(?P<short>[0-9a-f]{4})(?:-(?P<rest>.+))?$")


# A run's state as one character, so the picker's few characters go to the name and the id;
# the picker's help spells the marks out and the caption under it the word.
STATE_MARKS = {
    "finished": "✓",
    "running": "▶",
    "queued": "…",
    "failed": "✗",
    "cancelled": "■",
    "interrupted": "‖",
    "damaged": "⚠",
}


def short_label(run_id: str, name: str = "", tag: str = "") -> str:
    """``"<name or model> 858e <tag> · 07:41 Dec 02"``: what a person recognises first, the whole
    4-letter id kept, the time last (the part the picker may cut, and the caption under it shows).

    An id the store did not make (``--out my-run``) is shown whole.
    """
    tag = f" {tag}" if tag else ""
    match = _STAMPED.match(run_id)
    if match is None:
        return f"{name} · {run_id}{tag}" if name else f"{run_id}{tag}"
    date, clock = match["date"], match["time"]
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    month = months[int(date[4:6]) - 1] if 1 <= int(date[4:6]) <= 12 else date[4:6]
    when = f"{clock[:2]}:{clock[2:4]} {month} {date[6:]}"
    what = name or match["what"]
    # a study's run is told apart by its suffix; the study's own id is on the study's entry
    return f"{what} {match['rest'] if match['rest'] else match['short']}{tag} · {when}"


@dataclass
class RunChoices:
    """The picker's entries: run ids and ``study:<folder>`` entries, and how to label each."""

    entries: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)  # run id -> its label with the state as a word
    study_runs: dict[str, list[str]] = field(default_factory=dict)  # entry -> its runs, newest first
    study_of: dict[str, str] = field(default_factory=dict)  # run id -> its study's entry

    def entry_of(self, run_id: str) -> str:
        return self.study_of.get(run_id, run_id)


def run_choices(runs: list[Run], studies: dict[str, list[str]], own: list[str], names: dict[str, str]) -> RunChoices:
    """Order and label the runs: own runs, other runs, then one entry per study (each group newest first).

    ``runs`` come newest first (``RunStore.list``); ``studies`` maps a study's folder name to its
    run ids; ``own`` lists the runs this browser started; ``names`` the runs' given names.
    """
    present = {run.id: run for run in runs}
    choices = RunChoices()
    for folder, ids in studies.items():
        members = [run_id for run_id in present if run_id in set(ids)]
        if not members:
            continue
        entry = STUDY_ENTRY + folder
        choices.study_runs[entry] = members
        choices.study_of.update(dict.fromkeys(members, entry))
        choices.labels[entry] = "▸ " + short_label(folder, tag=f"({len(members)} runs)")
    mine = set(own)
    loose = [run_id for run_id in present if run_id not in choices.study_of]
    choices.entries = [run_id for run_id in loose if run_id in mine] + [run_id for run_id in loose if run_id not in mine]
    choices.entries += list(choices.study_runs)
    for run_id, run in present.items():
        mark = "★ " if run_id in mine else ""
        status = run_state(run)
        choices.labels[run_id] = mark + short_label(run_id, names.get(run_id, ""), STATE_MARKS.get(status, status))
        choices.words[run_id] = f"{short_label(run_id, names.get(run_id, ''))} · {status}"
    return choices


def render_sidebar() -> None:
    """Draw the data badge and the run picker (before the page, so pages can read the selection)."""
    browser.token()  # first, so the URL carries this browser's key from the first script run on
    with st.sidebar:
        source = state.data_source()
        if state.is_synthetic():
            st.warning("**Data: SYNTHETIC demo set** — drawn shapes, not CIFAR-10.", icon=":material/science:")
        else:
            st.success(f"**Data: CIFAR-10** from `{source}`", icon=":material/dataset:")
        _run_picker()


def _studies(store: RunStore) -> dict[str, list[str]]:
    try:
        return {folder.dir.name: [planned.run_id for planned in folder.study().runs] for folder in list_studies(store.root)}
    except (CifarError, OSError, ValueError):
        return {}  # a damaged study only loses its grouping


def _names(runs: list[Run]) -> dict[str, str]:
    return {run.id: name for run in runs if (name := cached(run, "name", lambda run: read_notes(run).name, lambda _: "finished"))}


def _picked() -> None:
    """First picker changed: a run is selected; a study selects its newest run (or the one picked before in it)."""
    entry = st.session_state[PICK]
    if entry.startswith(STUDY_ENTRY):
        st.session_state[state.SELECTED_RUN] = None  # resolved to the study's run when drawn
        st.session_state["_sidebar_study_entry"] = entry
    else:
        st.session_state[state.SELECTED_RUN] = entry


def _study_picked() -> None:
    st.session_state[state.SELECTED_RUN] = st.session_state[STUDY_PICK]


def _run_picker() -> None:
    store = RunStore()
    try:
        runs = store.list()  # a damaged run is listed as "damaged"; only an unreadable runs folder raises
    except CifarError as exc:
        st.warning(str(exc))
        return
    if not runs:
        st.session_state[state.SELECTED_RUN] = None
        st.caption(f"No runs yet in `{store.root}`: start one on the Train page.")
        return
    choices = run_choices(runs, _studies(store), browser.own_runs(), _names(runs))
    selected = _resolve_selection(choices)
    entry = choices.entry_of(selected)
    st.session_state[PICK] = entry
    st.selectbox(
        "Selected run",
        choices.entries,
        key=PICK,
        on_change=_picked,
        format_func=choices.labels.__getitem__,
        help="The run Evaluate and Explain use. ★ marks runs started from this browser; a study's runs are under "
        "its ▸ entry. After the name and short id: ✓ finished, ▶ running, … queued, ✗ failed, ■ cancelled, "
        "‖ interrupted, ⚠ damaged. Runs are folders in " + str(store.root),
    )
    if entry in choices.study_runs:
        st.session_state[STUDY_PICK] = selected
        st.selectbox(
            "Run of this study", choices.study_runs[entry], key=STUDY_PICK, on_change=_study_picked, format_func=choices.labels.get
        )
    if len(choices.labels[selected]) > LABEL_FITS:
        st.caption(choices.words[selected])  # the whole label, which the narrow picker cuts


def _resolve_selection(choices: RunChoices) -> str:
    """The run to show: a page's request, else this session's choice, else this browser's saved one, else the first entry."""
    present = set(choices.labels)
    pending = state.take_pending_run()
    current = st.session_state.get(state.SELECTED_RUN)
    study_entry = st.session_state.pop("_sidebar_study_entry", None)
    if pending in present:
        current = pending
    elif current is None and study_entry in choices.study_runs:
        current = choices.study_runs[study_entry][0]
    elif state.SELECTED_RUN not in st.session_state:
        current = browser.saved(state.SELECTED_RUN)
    if not isinstance(current, str) or current not in present or current.startswith(STUDY_ENTRY):
        first = choices.entries[0]
        current = choices.study_runs[first][0] if first in choices.study_runs else first
    st.session_state[state.SELECTED_RUN] = current
    browser.remember(state.SELECTED_RUN, current)
    return current
