"""Carrying a study out: its runs one after another, the results table rewritten after each.

The same loop serves both faces. In the CLI's foreground each run trains in this process
(``process.execute``); in the background a detached driver process (``study --worker``) starts
each run as an ordinary background run (``process.launch``) and waits for it, so the study goes
on when the app or the terminal closes, and each run keeps its own worker, log and cancel button.
Runs are created only when their turn comes: a created-but-unlaunched run would look
interrupted to the run store. A driver started again skips finished runs, waits for a live one
and resumes an interrupted one from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import psutil

from cifar_core.errors import RunError
from cifar_core.runs import Run
from cifar_core.runs.process import cancel, launch
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.study.definition import PlannedRun
from cifar_core.study.folder import ACTIVE, StudyFolder
from cifar_core.study.results import refresh_results

POLL_S = 1.0
DONE_STATES = ("finished", "failed", "cancelled")

# Trains one run to its end: (run, resume from last.pt?) -> None.
RunOne = Callable[[Run, bool], None]
# Told when a planned run starts: (index, planned run).
OnStart = Callable[[int, PlannedRun], None]


def drive(folder: StudyFolder, run_one: RunOne, on_start: OnStart | None = None) -> str:
    """Train every planned run that has not finished, in order; return the study's final state."""
    study = folder.study()
    store = folder.store()
    lock = folder.hold()  # one driver per study: a second one is refused before it writes anything
    me = psutil.Process()
    folder.update_status(state="running", pid=me.pid, pid_create_time=me.create_time(), started=time.time(), error=None)
    try:
        for index, planned in enumerate(study.runs):
            if folder.cancel_requested():
                break
            path = store.root / planned.run_id
            run = store.get(planned.run_id) if (path / "config.json").is_file() else None
            if run is not None and run.state in DONE_STATES:
                continue
            if on_start is not None:
                on_start(index, planned)
            if run is not None and run.state in ACTIVE_STATES:
                wait_for_run(run, folder)  # someone else is training it (e.g. an earlier driver's worker)
            elif run is not None:
                run_one(run, True)  # interrupted: go on from its last finished epoch
            else:
                run_one(store.create(study.config_for(planned), planned.run_id), False)
            refresh_results(folder)
        state = "cancelled" if folder.cancel_requested() else "finished"
        folder.update_status(state=state, ended=time.time())
        return state
    except BaseException as exc:  # Ctrl-C in the foreground leaves it resumable, a bug marks it failed
        state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        folder.update_status(state=state, ended=time.time(), error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        refresh_results(folder)
        lock.close()


def wait_for_run(run: Run, folder: StudyFolder) -> None:
    """Block until ``run`` stops; a study cancel request is passed on to it."""
    while run.state in ACTIVE_STATES:
        if folder.cancel_requested() and not run.cancel_path.exists():
            with contextlib.suppress(RunError):  # it may have ended a moment ago
                cancel(run)
        time.sleep(POLL_S)


def background_run_one(folder: StudyFolder) -> RunOne:
    """Start the run as a detached worker (queued on the CPU lock like any run) and wait for it."""

    def run_one(run: Run, resume: bool) -> None:
        launch(run, resume=resume)
        wait_for_run(run, folder)

    return run_one


def launch_driver(folder: StudyFolder) -> int:
    """Start ``study --worker`` for ``folder`` as a detached process (holding the study's lock); return its pid."""
    state = folder.status()["state"]
    if state in ACTIVE:
        raise RunError(f"Study {folder.dir.name} is already {state}.")
    return folder.spawn()


def cancel_study(folder: StudyFolder) -> None:
    """Stop the study: no further runs start, and its queued or running runs are cancelled."""
    folder.request_cancel()
    store = folder.store()
    for planned in folder.study().runs:
        if (store.root / planned.run_id / "config.json").is_file():
            run = store.get(planned.run_id)
            if run.state in ACTIVE_STATES:
                with contextlib.suppress(RunError):  # it may have ended a moment ago
                    cancel(run)
    if folder.status()["state"] not in ACTIVE:
        folder.update_status(state="cancelled", ended=time.time())
