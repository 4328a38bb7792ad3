"""Per-run facts for the run picker and the Runs table, read once per change of the run's files.

With a thousand runs, reading every run's status and validating its config on each script run
(every click, every refresh) takes seconds. A finished, failed or cancelled run changes only when
one of its files does, so what was read is kept, keyed by the files' modification times; a run
that is queued or running is read afresh each time, since whether its process lives is not in
any file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from cifar_core.runs import Run
from cifar_core.runs.store import ACTIVE_STATES

FILES = ("status.json", "config.json", "metrics.jsonl", "notes.json")
MAX_ENTRIES = 20_000


class _Facts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple, Any] = {}


# one for the whole server (a module is imported once), shared by every session: a plain object,
# since a Streamlit cache's lookup costs more than the file stats it saves, times a thousand runs
_FACTS = _Facts()


def _stamps(folder: str) -> tuple:
    stamps = []
    for name in FILES:
        try:
            stamps.append(os.stat(os.path.join(folder, name)).st_mtime_ns)  # os.path: pathlib's joins cost as much as the stat
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def cached(run: Run, kind: str, read: Callable[[Run], Any], state_of: Callable[[Any], str]) -> Any:
    """``read(run)``, reused while the run's files are unchanged and ``state_of(value)`` is a settled state."""
    facts = _FACTS
    folder = str(run.dir)
    key = (folder, kind, _stamps(folder))
    with facts.lock:
        if key in facts.entries:
            return facts.entries[key]
    value = read(run)
    if state_of(value) not in ACTIVE_STATES and state_of(value) != "interrupted":  # interrupted may be a launch not yet begun
        with facts.lock:
            if len(facts.entries) >= MAX_ENTRIES:
                facts.entries.clear()
            facts.entries[key] = value
    return value


def run_state(run: Run) -> str:
    """``run.state``, read once per change of its files while it is settled."""
    return cached(run, "state", lambda run: run.state, lambda state: state)
