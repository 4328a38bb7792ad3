"""Running a run: in this process (CLI foreground) or as a detached worker process (app, CLI
``--background``), so training survives page switches, browser refreshes and app restarts.

Workers on the CPU take a file lock first, so one run trains at a time and later launches wait
in ``queued``; the lock is released by the kernel even when a worker is killed. A heartbeat
thread keeps ``status.json`` fresh; a cancel request (file + SIGTERM) stops training between
steps and keeps the checkpoints of every finished epoch.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from cifar_core.errors import CifarError, RunError
from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint
from cifar_core.runs.store import ACTIVE_STATES, Run
from cifar_core.runs.tensorboard import TensorBoardMirror
from cifar_core.train import TrainResult, train

HEARTBEAT_S = 2.0
LOCK_POLL_S = 0.5
log = logging.getLogger(__name__)


def launch(run: Run, *, resume: bool = False) -> int:
    """Start a detached worker process for ``run`` and return its pid."""
    state = run.state
    if state in ACTIVE_STATES and run.raw_status().get("pid"):
        raise RunError(f"Run {run.id} is already {state}.")
    if resume and state == "finished":
        raise RunError(f"Run {run.id} has finished; re-run its config instead of resuming it.")
    run.cancel_path.unlink(missing_ok=True)
    run.update_status(state="queued", pid=None, launched=time.time(), error=None, ended=None)
    command = [sys.executable, "-m", "cifar_core", "runs", "worker", str(run.dir)]
    if resume:
        command.append("--resume")
    project_root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(project_root), os.environ.get("PYTHONPATH")]))}
    with open(run.log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the app or the terminal that started it
            cwd=project_root,
            env=env,
        )
    return process.pid


def cancel(run: Run) -> None:
    """Ask a queued or running run to stop; its finished epochs' checkpoints are kept."""
    status = run.status()
    if status["state"] not in ACTIVE_STATES:
        raise RunError(f"Run {run.id} is {status['state']}, not running.")
    run.cancel_path.write_text(str(time.time()))
    pid = status.get("pid")
    if pid and psutil.pid_exists(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def execute(
    run: Run,
    *,
    resume: bool = False,
    exclusive: bool | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult | None:
    """Train ``run`` in this process, keeping status.json true at every stage.

    ``exclusive`` (default: when training on the CPU) waits for the store-wide training lock.
    Returns ``None`` when the run failed (the error is in status.json and the log).
    """
    from cifar_core.data import load_cifar
    from cifar_core.device import resolve_device

    stop = threading.Event()
    previous_handler = _install_sigterm(stop) if threading.current_thread() is threading.main_thread() else None
    me = psutil.Process()
    run.update_status(state="queued", pid=me.pid, pid_create_time=me.create_time(), heartbeat=time.time())
    lock_handle = None
    heartbeat = threading.Thread(target=_beat, args=(run, stop), daemon=True)
    try:
        config = run.config()
        if exclusive is None:
            exclusive = resolve_device(config.device).type == "cpu"
        if exclusive:
            lock_handle = _acquire_training_lock(run, stop)
            if lock_handle is None:
                run.update_status(state="cancelled", ended=time.time())
                return TrainResult("cancelled", 0, None)
        run.update_status(state="running", started=run.raw_status().get("started") or time.time())
        heartbeat.start()
        data = load_cifar(config.data)
        state = None
        if resume and run.checkpoint_path("last").is_file():
            state = load_checkpoint(run.checkpoint_path("last"))
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
            save=lambda name, payload: save_checkpoint(run.checkpoint_path(name), payload),
            should_stop=lambda: stop.is_set() or run.cancel_path.exists(),
            resume=state,
        )
        mirror.close()
        run.update_status(state=result.status, ended=time.time(), best_val_acc=result.best_val_acc)
        return result
    except CifarError as exc:
        log.error("run %s failed: %s", run.id, exc)
        run.update_status(state="failed", error=str(exc), ended=time.time())
        return None
    except Exception as exc:  # a bug: keep the traceback in the log, a sentence in the status
        traceback.print_exc()
        run.update_status(state="failed", error=f"{type(exc).__name__}: {exc}", ended=time.time())
        return None
    finally:
        stop.set()
        if heartbeat.is_alive():
            heartbeat.join(timeout=HEARTBEAT_S * 2)
        if lock_handle is not None:
            lock_handle.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _install_sigterm(stop: threading.Event):
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())


def _beat(run: Run, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            run.update_status(heartbeat=time.time())
        except OSError:  # a full disk must not kill training; the checkpoint write reports it
            pass


def _acquire_training_lock(run: Run, stop: threading.Event):
    """Block until this process holds the store-wide lock, or return None if cancelled meanwhile."""
    handle = open(run.dir.parent / ".training.lock", "a+")
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if stop.is_set() or run.cancel_path.exists():
                handle.close()
                return None
            time.sleep(LOCK_POLL_S)
