"""Carrying a study out: one driver, whichever backend trains the runs.

``drive_with`` is the only study driver. It makes this process the study's one driver (the
folder lock, ``running`` with pid and ``pid_create_time``, so the study reads as running only
while this process lives and a second driver or a Resume is refused), hands the unfinished runs
to an executor, and writes the final state and the results. The executor is the only thing the
backends differ in: ``one_after_another`` trains the runs in order on this machine, the Ray
backend (``ray_backend.py``) submits each as a Ray task.

Locally the same loop serves both faces. In the CLI's foreground each run trains in this process
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
from typing import Any

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
# Trains the study's unfinished runs, (index, planned run) in the study's order, stopping early on a
# cancel request: (folder, runs, on_start) -> None. Retries, if the backend has them, are its own.
Executor = Callable[[StudyFolder, list[tuple[int, PlannedRun]], OnStart | None], None]


def drive(folder: StudyFolder, run_one: RunOne, on_start: OnStart | None = None) -> str:
    """Train every planned run that has not finished, one after another; return the study's final state."""
    return drive_with(folder, one_after_another(run_one), on_start)


def drive_with(folder: StudyFolder, executor: Executor, on_start: OnStart | None = None, **status_fields: Any) -> str:
    """Be the study's one driver while ``executor`` trains its unfinished runs; return the final state.

    ``status_fields`` are recorded in status.json beside the pid (the Ray backend names itself there,
    so ``study --worker`` resumes a study on the backend it started on).
    """
    lock = folder.hold()  # one driver per study: a second one is refused before it writes anything
    me = psutil.Process()
    folder.update_status(state="running", pid=me.pid, pid_create_time=me.create_time(), started=time.time(), error=None, **status_fields)
    try:
        executor(folder, unfinished_runs(folder), on_start)
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


def unfinished_runs(folder: StudyFolder) -> list[tuple[int, PlannedRun]]:
    """(index, planned run) of every run not yet finished, failed or cancelled, in the study's order."""
    store = folder.store()
    todo = []
    for index, planned in enumerate(folder.study().runs):
        run = store.find(planned.run_id)
        if run is None or run.state not in DONE_STATES:
            todo.append((index, planned))
    return todo


def one_after_another(run_one: RunOne) -> Executor:
    """The local executor: each run in turn with ``run_one``, the results table rewritten after each."""

    def execute_all(folder: StudyFolder, todo: list[tuple[int, PlannedRun]], on_start: OnStart | None) -> None:
        study, store = folder.study(), folder.store()
        for index, planned in todo:
            if folder.cancel_requested():
                break
            if on_start is not None:
                on_start(index, planned)
            run = store.find(planned.run_id)
            if run is None:
                run_one(store.create(study.config_for(planned), planned.run_id), False)
            elif run.state in ACTIVE_STATES:
                wait_for_run(run, folder)  # someone else is training it (e.g. an earlier driver's worker)
            elif run.state not in DONE_STATES:
                run_one(run, True)  # interrupted: go on from its last finished epoch
            refresh_results(folder)

    return execute_all


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
        run = store.find(planned.run_id)
        if run is not None and run.state in ACTIVE_STATES:
            with contextlib.suppress(RunError):  # it may have ended a moment ago
                cancel(run)
    if folder.status()["state"] not in ACTIVE:
        folder.update_status(state="cancelled", ended=time.time())
