"""A run's name and notes, written by a person: ``notes.json`` in the run folder.

Kept apart from ``config.json`` (what decides the result) and ``status.json`` (written by the
worker), so naming a run never races with its training process and never changes its config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cifar_core.errors import RunError
from cifar_core.runs.atomic import write_json_atomic
from cifar_core.runs.store import Run

NOTES_FILE = "notes.json"
MAX_NAME = 80
MAX_NOTES = 4000


@dataclass(frozen=True)
class RunNotes:
    name: str = ""
    notes: str = ""


def read_notes(run: Run) -> RunNotes:
    """The run's name and notes; empty when it has none or the file is unreadable."""
    path = run.dir / NOTES_FILE
    try:
        if path.is_symlink() or path.stat().st_size > 4 * MAX_NOTES:
            return RunNotes()
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return RunNotes()
    if not isinstance(values, dict):
        return RunNotes()
    return RunNotes(str(values.get("name", ""))[:MAX_NAME], str(values.get("notes", ""))[:MAX_NOTES])


def write_notes(run: Run, notes: RunNotes) -> None:
    """Save a run's name and notes (atomically); refuses text longer than the caps."""
    if len(notes.name) > MAX_NAME or len(notes.notes) > MAX_NOTES:
        raise RunError(f"A run's name may have at most {MAX_NAME} characters and its notes {MAX_NOTES}.")
    if not run.config_path.is_file():
        raise RunError(f"{run.id} is not a run folder.")
    write_json_atomic(run.dir / NOTES_FILE, {"name": notes.name.strip(), "notes": notes.notes.strip()})
