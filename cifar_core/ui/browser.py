"""Per-browser state: a random key in the URL (``?b=…``) and one small JSON file per key.

Streamlit's session ends with a reload, and a file shared by the whole server is shared by every
student. So each browser gets a token, kept in the URL's query string (it survives a reload and
each page switch, because the sidebar writes it back on every script run), and the values it
set (its Train form, its lab settings, its selected run and scored set, the runs it started) are
saved under ``<runs root>/.browsers/<token>.json``. The token is only ever a key to those values:
a token that does not look like one we made is replaced, never used as a path. See
docs/browser_state.md for why a URL key rather than a cookie.

The file helpers here need no Streamlit; ``token()``, ``saved()`` and ``remember()`` are the
session glue the ``persist`` helper in ``cifar_core.ui.state`` calls.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from cifar_core.errors import CifarError
from cifar_core.runs import RunStore
from cifar_core.runs.atomic import write_json_atomic

PARAM = "b"  # the query parameter
TOKEN_PATTERN = re.compile(r"[a-z0-9]{16}")
_ALPHABET = string.ascii_lowercase + string.digits
FOLDER = ".browsers"  # under the runs root; the leading dot keeps it out of the run list
MAX_STATE_BYTES = 256_000  # a form, a lab and a list of runs fit many times over
MAX_BROWSERS = 500  # beyond it the least recently used files are removed
MAX_VALUE_CHARS = 20_000  # a single value larger than this (a pasted essay) is not kept
_TOKEN_KEY = "_browser_token"
_VALUES_KEY = "_browser_values"


def new_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def valid_token(value: Any) -> bool:
    return isinstance(value, str) and TOKEN_PATTERN.fullmatch(value) is not None


def folder(runs_root: Path) -> Path:
    return Path(runs_root) / FOLDER


def state_path(runs_root: Path, token: str) -> Path:
    if not valid_token(token):
        raise ValueError(f"not a browser token: {token!r}")
    return folder(runs_root) / f"{token}.json"


def load_values(runs_root: Path, token: str) -> dict[str, Any]:
    """The values saved for ``token``; empty when none, unreadable, too large or not a JSON object."""
    path = state_path(runs_root, token)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_STATE_BYTES:
            return {}
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def save_values(runs_root: Path, token: str, values: dict[str, Any]) -> bool:
    """Write ``values`` for ``token`` (atomic); False when too large or the folder cannot be written (only that is lost)."""
    text = json.dumps(values)
    if len(text.encode()) > MAX_STATE_BYTES:
        return False
    try:
        folder(runs_root).mkdir(parents=True, exist_ok=True)
        write_json_atomic(state_path(runs_root, token), values)
    except (OSError, CifarError, TypeError, ValueError):
        return False
    _prune(folder(runs_root))
    return True


def _prune(where: Path) -> None:
    """Keep at most ``MAX_BROWSERS`` files: a crawler or a script opening the app cannot fill the disk."""
    try:
        files = [entry for entry in os.scandir(where) if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False)]
    except OSError:
        return
    if len(files) <= MAX_BROWSERS:
        return
    files.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime)
    for entry in files[: len(files) - MAX_BROWSERS]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _jsonable(value: Any) -> Any:
    """The value as JSON keeps it (tuples as lists), or None when it cannot or should not be kept."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value if len(text) <= MAX_VALUE_CHARS else None


# -- session glue ---------------------------------------------------------------------------------


def token() -> str:
    """This browser's token: the URL's when it is one of ours, else a new one; written back to the URL every run.

    Writing it back on each script run is what keeps it across ``st.navigation`` page switches
    (which rebuild the query string) and so across the reload that follows.
    """
    current = st.session_state.get(_TOKEN_KEY)
    if current is None:
        asked = st.query_params.get(PARAM)
        current = asked if valid_token(asked) else new_token()
        st.session_state[_TOKEN_KEY] = current
    if st.query_params.get(PARAM) != current:
        st.query_params[PARAM] = current
    return current


def _values() -> dict[str, Any]:
    if _VALUES_KEY not in st.session_state:
        st.session_state[_VALUES_KEY] = load_values(RunStore().root, token())
    return st.session_state[_VALUES_KEY]


def saved(key: str, default: Any = None) -> Any:
    """The value this browser saved under ``key`` (a reload or a new tab with this URL), else ``default``."""
    return _values().get(key, default)


# The sessions of one server are threads: one read-change-write of a browser's file at a time.
_WRITING = threading.Lock()


def _save(key: str, change: Callable[[Any], Any]) -> Any:
    """Set ``key`` to ``change(its saved value)`` in this browser's file as the file is now; return the new value.

    Not this session's copy: two tabs of one browser share the token but each read the file once,
    so writing a whole copy back would undo what the other tab saved since (a run it started would
    fall out of the own runs, and after a reload that tab could not cancel it).
    """
    root, this = RunStore().root, token()
    with _WRITING:
        values = load_values(root, this)
        values[key] = change(values.get(key))
        values["_saved_at"] = time.time()
        save_values(root, this, values)
    return values[key]


def remember(key: str, value: Any) -> None:
    """Save ``value`` under ``key`` for this browser; written only when it changed (one small file write)."""
    values = _values()
    value = _jsonable(value)
    if values.get(key) == value and key in values:
        return
    values[key] = value
    _save(key, lambda _saved: value)


def own_runs() -> list[str]:
    """Ids of the runs started from this browser, newest last."""
    runs = saved(OWN_RUNS, [])
    return [run_id for run_id in runs if isinstance(run_id, str)] if isinstance(runs, list) else []


OWN_RUNS = "_own_runs"
MAX_OWN_RUNS = 2_000


def add_own_run(run_id: str) -> None:
    """Add ``run_id`` to the runs the file holds now, so a run another tab of this browser started stays too."""

    def added(saved: Any) -> list[str]:
        runs = [other for other in saved if isinstance(other, str)] if isinstance(saved, list) else []
        return [*runs, run_id][-MAX_OWN_RUNS:]

    _values()[OWN_RUNS] = _save(OWN_RUNS, added)
