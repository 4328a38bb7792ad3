"""Who may cancel, resume or delete a run: on a class server, the browser that started it, or the teacher.

On one's own machine everyone is the owner, so nothing changes. The rule is on when the server
is served to a class (``CIFAR_EXPLORER_DATA_ROOTS`` set, see docs/serving.md) or started with a
teacher key (``CIFAR_EXPLORER_TEACHER_KEY``); a browser that gives the key (the Runs page's
"Teacher key" box, or ``?teacher=<key>`` in the URL) may manage every run for that session.
The key is compared in constant time and never stored.
"""

from __future__ import annotations

import hmac
import os

import streamlit as st

from cifar_core.ui import browser

TEACHER_ENV = "CIFAR_EXPLORER_TEACHER_KEY"
SERVED_ENV = "CIFAR_EXPLORER_DATA_ROOTS"
_TEACHER = "_teacher_unlocked"
KEY_BOX = "teacher_key"


def rule_on() -> bool:
    return bool(os.environ.get(SERVED_ENV) or os.environ.get(TEACHER_ENV))


def try_teacher_key(given: str | None) -> bool:
    """Unlock this session when ``given`` is the server's teacher key; False (and nothing unlocked) otherwise."""
    key = os.environ.get(TEACHER_ENV, "")
    if key and isinstance(given, str) and hmac.compare_digest(given.encode(), key.encode()):
        st.session_state[_TEACHER] = True
        return True
    return False


def is_teacher() -> bool:
    if not st.session_state.get(_TEACHER) and (given := st.query_params.get("teacher")):
        try_teacher_key(given)
    return bool(st.session_state.get(_TEACHER))


def may_manage(run_id: str) -> bool:
    """Whether this browser may cancel, resume or delete ``run_id``."""
    return not rule_on() or run_id in browser.own_runs() or is_teacher()


def refusal(run_id: str) -> str:
    """The one sentence shown instead of the buttons."""
    how = " or the teacher (with the server's teacher key)" if os.environ.get(TEACHER_ENV) else ""
    return f"Run {run_id} was started from another browser: only that browser{how} can cancel, resume or delete it."
