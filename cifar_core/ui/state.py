"""Session state shared between pages, under names defined once.

Streamlit forgets a widget's value when a page that does not show it runs, so values a user set
on one page and expects to find again are kept here: the data source and the selected run in plain
session keys that no widget owns, the Train form in widget keys that ``persist`` keeps. The keys
one page sets for another (the run to select, the image to explain, the runs to compare) are named
here too, so both pages spell them the same way.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from cifar_core.app.sources import SYNTHETIC, default_source
from cifar_core.train.presets import PRESETS
from cifar_core.ui import browser
from cifar_core.ui.train_form import CUSTOM, DEFAULT_PRESET, KEY_PREFIX, TrainForm

DATA_SOURCE = "data_source"
DATA_REASON = "data_source_reason"
SELECTED_RUN = "selected_run"  # the run the sidebar's pickers show and change (no widget owns it)
_PENDING_RUN = "_pending_selected_run"
TRAIN_AUGMENT = "train_augment"  # the Train form's augmentations carried over from the Augmentation lab (no widget)
_FORM_SEEDED = "_train_form_seeded"
_FORM_KEYS = {key.removeprefix(KEY_PREFIX): key for key in TrainForm().widget_values()}  # field -> widget key
EXPLAIN_REQUEST = "explain_request"
"""``{"run_id", "source", "split", "index"}``: the image the Explain page should open on.

``source`` is the data source (a path or ``synthetic``), ``split`` the split of that source and
``index`` the image's position in it (a run's validation images lie in its source's ``train``).
Set by the Evaluate page's "Explain this image", read by the Explain page.
"""
# Widget keys one page sets so that another opens on a pair of runs: the Runs page's "Compare"
# sets the Compare page's two pickers, and the Compare page's robustness link the Robustness page's.
COMPARE_RUN_A, COMPARE_RUN_B = "compare_run_a", "compare_run_b"
ROBUSTNESS_RUN, ROBUSTNESS_OTHER = "robustness_run", "robustness_other"


def data_source() -> str:
    """The source every page works on (a resolved path or ``synthetic``); starts at the default."""
    if DATA_SOURCE not in st.session_state:
        chosen = default_source()
        st.session_state[DATA_SOURCE] = chosen.source
        st.session_state[DATA_REASON] = chosen.reason
    return st.session_state[DATA_SOURCE]


def data_source_reason() -> str:
    """Why the current source was chosen, in words for the user."""
    data_source()
    return st.session_state[DATA_REASON]


def is_synthetic() -> bool:
    return data_source() == SYNTHETIC


def set_data_source(source: str, reason: str) -> None:
    st.session_state[DATA_SOURCE] = source
    st.session_state[DATA_REASON] = reason


def select_run(run_id: str) -> None:
    """Make ``run_id`` the sidebar's selected run from the next script run on.

    The sidebar's picker is drawn before any page, so a page cannot set it directly (Streamlit
    refuses to change a widget's value after it is drawn); the request waits here instead.
    """
    st.session_state[_PENDING_RUN] = run_id


def take_pending_run() -> str | None:
    """The run a page asked to select, once (the sidebar applies it before drawing its picker)."""
    return st.session_state.pop(_PENDING_RUN, None)


def selected_run_id() -> str | None:
    return st.session_state.get(SELECTED_RUN)


def persist(key: str, default: Any) -> dict[str, Any]:
    """Widget arguments that keep ``key``'s value across page switches and reloads: ``st.slider(..., **persist(key, default))``.

    Streamlit's own ``persist_state="session"`` keeps the value while the page is not shown, and
    keeps the browser in step with it. A new session (a reload, or this browser's URL in a new tab)
    starts from the value this browser saved (``cifar_core.ui.browser``) when it still has the
    default's type, else from ``default``; each script run saves the current value, so what a
    user set comes back for that browser only.
    """
    if key not in st.session_state:
        saved = restorable(browser.saved(key), default)
        st.session_state[key] = default if saved is None else saved
    if st.session_state[key] != default or browser.saved(key) is not None:  # a first visit writes nothing
        browser.remember(key, st.session_state[key])
    return {"key": key, "persist_state": "session"}


Number = int | float


def persist_number(key: str, default: Number, min_value: Number | None = None, max_value: Number | None = None) -> dict[str, Any]:
    """``persist`` for ``st.number_input``, with the box's own default set to the value it holds now.

    Streamlit's number box first paints its element default (``value``; without one, ``min_value``
    or 0) and puts the session's value in only in an effect after that paint, and a box emptied and
    left commits that default. Without a ``value`` the Train page's Epochs box shows 0 for a moment
    after each reload and page switch, long enough on a loaded machine for a browser test to read
    '0' where 7 was saved. A value outside the bounds (a hand-edited state file) gives way to ``default``, as
    Streamlit itself resets such a value.
    """
    arguments = persist(key, default)
    value = st.session_state[key]
    if isinstance(default, float) and type(value) is int:
        value = float(value)
    if type(value) is not type(default) or not math.isfinite(value):
        value = default
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        value = default
    bounds = {name: bound for name, bound in (("min_value", min_value), ("max_value", max_value)) if bound is not None}
    return {**arguments, **bounds, "value": value}


def restorable(value: Any, default: Any) -> Any:
    """``value`` shaped like ``default`` (a tuple again where the default is one), or None when it is not of its kind.

    The saved file is plain JSON: a range slider's tuple comes back as a list, and a value of
    another type (an old file, a changed widget) must not reach a widget that would refuse it.
    """
    if value is None:
        return None
    if isinstance(default, (tuple, list)):
        if not isinstance(value, list) or (isinstance(default, tuple) and len(value) != len(default)):
            return None
        if default and not all(restorable(item, default[0]) is not None for item in value):
            return None
        return tuple(value) if isinstance(default, tuple) else value
    if isinstance(default, bool) or isinstance(value, bool):
        return value if isinstance(value, bool) and isinstance(default, bool) else None
    if isinstance(default, float):
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    if isinstance(default, int):
        return value if isinstance(value, int) else None
    if isinstance(default, str):
        return value if isinstance(value, str) else None
    return None


def train_form() -> TrainForm:
    """The Train form's current values, for the Train page and the Experiments page alike.

    A new session (a first visit or a browser reload) starts from the form this browser saved,
    else from the first recipe; ``TrainForm.from_dict`` checks every saved value. The values are
    written once to the widget keys, which keep them from then on (``persist``).
    """
    if not st.session_state.get(_FORM_SEEDED):
        values = {name: browser.saved(key) for name, key in _FORM_KEYS.items() if browser.saved(key) is not None}
        preset = st.session_state.get(_FORM_KEYS["preset"], DEFAULT_PRESET)
        saved = TrainForm.from_dict({**values, "augment": browser.saved(TRAIN_AUGMENT)}) if values else None
        saved = saved or TrainForm.for_preset(preset if preset in PRESETS else CUSTOM)
        for key, value in saved.widget_values().items():
            if key not in st.session_state:
                st.session_state[key] = value
        st.session_state.setdefault(TRAIN_AUGMENT, saved.augment)
        st.session_state[_FORM_SEEDED] = True
    if st.session_state.get(TRAIN_AUGMENT) is not None or browser.saved(TRAIN_AUGMENT) is not None:
        browser.remember(TRAIN_AUGMENT, st.session_state.get(TRAIN_AUGMENT))
    values = {name: st.session_state[key] for name, key in _FORM_KEYS.items() if key in st.session_state}
    return TrainForm.from_dict({**values, "augment": st.session_state.get(TRAIN_AUGMENT)})


def set_train_form(form: TrainForm) -> None:
    """Replace the whole form (a recipe was picked): call from a callback or before the widgets are drawn."""
    for key, value in form.widget_values().items():
        st.session_state[key] = value
    st.session_state[TRAIN_AUGMENT] = form.augment
