"""Running a run: in this process (CLI foreground) or as a detached worker process (app, CLI
``--background``), so training survives page switches, browser refreshes and app restarts.

One run has one worker: the worker holds the run's lock (``procfolder``) for its whole life, and a
launch takes that lock before it writes anything, so a second resume is refused instead of
starting a second worker. Workers on the CPU also take a store-wide file lock, so one run trains
at a time and later launches wait in ``queued``; the kernel releases both locks even when a worker
is killed. A heartbeat thread keeps ``status.json`` fresh; a cancel request (file, plus SIGTERM
to a process proved to be the run's worker) stops training between steps and keeps the
checkpoints of every finished epoch. A run folder removed during training stays removed: the
worker notices (``FolderGone``) and stops without writing anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import psutil

from cifar_core.errors import CifarError, RunError
from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint
from cifar_core.runs.procfolder import LAUNCH_GRACE_S, FolderGone
from cifar_core.runs.recovery import reconcile
from cifar_core.runs.store import ACTIVE_STATES, DAMAGED, Run
from cifar_core.runs.tensorboard import TensorBoardMirror
from cifar_core.train import TrainResult, train

HEARTBEAT_S = 2.0
LOCK_POLL_S = 0.5
log = logging.getLogger(__name__)


def launch(run: Run, *, resume: bool = False) -> int:
    """Start a detached worker process for ``run`` (holding the run's lock) and return its pid."""
    state = run.state
    if resume and state == "finished":
        raise RunError(f"Run {run.id} has finished; re-run its config instead of resuming it.")
    if state == DAMAGED:
        raise RunError(f"Run {run.id} is damaged ({run.status()['error']}); it cannot be trained further.")
    return run.spawn(["--resume"] if resume else [])


def cancel(run: Run) -> None:
    """Ask a queued or running run to stop; its finished epochs' checkpoints are kept.

    Whenever status.json says queued or running, the cancel file is written (the worker and a
    foreground ``train`` both poll it), even when its process cannot be proved alive: that costs
    nothing and stops a worker we failed to recognise. SIGTERM is sent only to a process whose
    pid, start time and command line prove it is this run's worker, so a stale or forged
    status.json can never make us signal someone else.
    """
    status = run.raw_status()
    if status["state"] not in ACTIVE_STATES:
        raise RunError(f"Run {run.id} is {run.state}, not running.")
    run.request_cancel()
    if run.is_our_worker(status):
        with contextlib.suppress(ProcessLookupError):
            os.kill(status["pid"], signal.SIGTERM)


def execute(
    run: Run,
    *,
    resume: bool = False,
    exclusive: bool | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult | None:
    """Train ``run`` in this process, keeping status.json true at every stage.

    First this process becomes the run's one worker (``Run.hold``: it adopts the lock a launcher
    handed down, or takes it; a second worker is refused before it writes anything).
    ``exclusive`` (default: when training on the CPU) waits for the store-wide training lock.
    Returns ``None`` when the run failed (the error is in status.json and the log) or its folder
    was removed while it trained (then nothing is written at all).
    """
    from cifar_core.data import load_cifar
    from cifar_core.device import resolve_device

    run_lock = run.hold()
    stop = threading.Event()
    previous_handler = _install_sigterm(stop) if threading.current_thread() is threading.main_thread() else None
    lock_handle = None
    heartbeat = threading.Thread(target=_beat, args=(run, stop), daemon=True)
    try:
        me = psutil.Process()
        run.update_status(state="queued", pid=me.pid, pid_create_time=me.create_time(), heartbeat=time.time())
        config = run.config()
        if exclusive is None:
            exclusive = resolve_device(config.device).type == "cpu"
        clock_start = _budget_clock_start(run, me)
        if exclusive:
            queued_since = time.time()
            lock_handle = _acquire_training_lock(run, stop)
            if lock_handle is None:
                run.update_status(state="cancelled", ended=time.time())
                return TrainResult("cancelled", 0, None)
            clock_start += time.time() - queued_since  # a budget does not pay for the queue
        run.update_status(state="running", started=run.raw_status().get("started") or time.time())
        heartbeat.start()
        data = load_cifar(config.data)
        state = None
        if resume and run.checkpoint_path("last").is_file():
            state = load_checkpoint(run.checkpoint_path("last"))
        if resume:
            reconcile(run, state)  # metrics.jsonl and best.pt agree with last.pt whatever the crash point
        run.append_event({"type": "resume" if state else "launch", "time": time.time(), "epoch": state["epoch"] if state else 0})

        mirror = TensorBoardMirror(run.dir)

        def emit(event: dict[str, Any]) -> None:
            run.append_event(event)
            mirror(event)
            if on_event is not None:
                on_event(event)

        result = train(
            config,
            data,
            on_event=emit,
            save=lambda name, payload: _save(run, name, payload),
            should_stop=lambda: stop.is_set() or run.cancel_path.exists(),
            resume=state,
            clock_start=clock_start,
        )
        mirror.finish(config, result)
        run.update_status(state=result.status, ended=time.time(), best_val_acc=result.best_val_acc)
        return result
    except FolderGone as exc:  # removed by hand: stop, and write nothing anywhere
        log.error("%s", exc)
        return None
    except CifarError as exc:
        log.error("run %s failed: %s", run.id, exc)
        _record_failure(run, str(exc))
        return None
    except Exception as exc:  # a bug: keep the traceback in the log, a sentence in the status
        traceback.print_exc()
        _record_failure(run, f"{type(exc).__name__}: {exc}")
        return None
    finally:
        stop.set()
        if heartbeat.is_alive():
            heartbeat.join(timeout=HEARTBEAT_S * 2)
        if lock_handle is not None:
            lock_handle.close()
        run_lock.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _budget_clock_start(run: Run, me: psutil.Process) -> float:
    """When the user's wait for this run began: the worker's start when ``launch`` started it for
    this run (so a budget pays for imports and data load), else now (in-process, e.g. a study)."""
    launched = run.raw_status().get("launched")
    if isinstance(launched, (int, float)) and 0 <= me.create_time() - launched < LAUNCH_GRACE_S:
        return me.create_time()
    return time.time()


def _save(run: Run, name: str, payload: dict[str, Any]) -> None:
    """Save a checkpoint into the run's folder, which must still be the one this worker holds."""
    run.check_present()
    try:
        save_checkpoint(run.checkpoint_path(name), payload)
    except FileNotFoundError as exc:
        raise FolderGone(f"Run folder {run.dir} was removed during training; nothing was re-created.") from exc


def _record_failure(run: Run, error: str) -> None:
    with contextlib.suppress(FolderGone):
        run.update_status(state="failed", error=error, ended=time.time())


def _install_sigterm(stop: threading.Event):
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())


def _beat(run: Run, stop: threading.Event) -> None:
    """Refresh the heartbeat; a removed folder stops training, a full disk does not (the checkpoint write reports it)."""
    while not stop.wait(HEARTBEAT_S):
        try:
            run.update_status(heartbeat=time.time())
        except FolderGone:
            log.error("run folder %s was removed; stopping", run.dir)
            stop.set()
        except (OSError, CifarError):
            pass


def _acquire_training_lock(run: Run, stop: threading.Event):
    """Block until this process holds the store-wide lock, or return None if cancelled meanwhile."""
    handle = open(run.dir.parent / ".training.lock", "a+")
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                run.check_present()  # a run folder removed while queued ends the wait (FolderGone)
                if stop.is_set() or run.cancel_path.exists():
                    handle.close()
                    return None
                time.sleep(LOCK_POLL_S)
    except BaseException:
        handle.close()
        raise
