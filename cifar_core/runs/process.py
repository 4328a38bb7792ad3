"""Running a run: in this process (CLI foreground) or as a detached worker process (app, CLI
``--background``), so training survives page switches, browser refreshes and app restarts.

One run has one worker: the worker holds the run's lock (``procfolder``) for its whole life, and a
launch takes that lock before it writes anything, so a second resume is refused instead of
starting a second worker. Workers on the CPU also take a store-wide file lock, so one run trains
at a time and later launches wait in ``queued``; the kernel releases both locks even when a worker
is killed. A heartbeat thread keeps ``status.json`` fresh; a cancel request (file, plus SIGTERM
to a process proved to be the run's worker) stops training between steps and keeps the
checkpoints of every finished epoch. Ctrl-C on a run trained in the foreground stops it at once
and records ``interrupted``; ``runs resume`` goes on from its last finished epoch, in the
foreground again (``hold_for_resume``) or detached (``launch``). A run folder removed during
training stays removed: the worker notices (``FolderGone``) and stops without writing anything.
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
from collections.abc import Callable, Iterator
from typing import Any

import psutil

from cifar_core.errors import CifarError, RunError
from cifar_core.runs.checkpoint import load_checkpoint, save_checkpoint
from cifar_core.runs.procfolder import LAUNCH_GRACE_S, FolderGone, FolderLock
from cifar_core.runs.recovery import reconcile
from cifar_core.runs.store import ACTIVE_STATES, DAMAGED, Run
from cifar_core.runs.tensorboard import TensorBoardMirror
from cifar_core.train import TrainConfig, TrainResult, train

HEARTBEAT_S = 2.0
LOCK_POLL_S = 0.5
log = logging.getLogger(__name__)


def launch(run: Run, *, resume: bool = False) -> int:
    """Start a detached worker process for ``run`` (holding the run's lock) and return its pid."""
    _refuse_untrainable(run, resume=resume)
    return run.spawn(["--resume"] if resume else [])


def hold_for_resume(run: Run) -> FolderLock:
    """Make this process ``run``'s one process, to go on with it here (``runs resume`` in the foreground).

    The refusals are ``launch``'s, asked while holding the lock, and an earlier cancel request is
    dropped as a launch drops it; the caller hands the lock to ``execute(run, resume=True, lock=...)``.
    """
    lock = run.hold()
    try:
        _refuse_untrainable(run, resume=True)
        run.cancel_path.unlink(missing_ok=True)
    except BaseException:
        lock.close()
        raise
    return lock


def _refuse_untrainable(run: Run, *, resume: bool) -> None:
    state = run.state
    if resume and state == "finished":
        raise RunError(f"Run {run.id} has finished; re-run its config instead of resuming it.")
    if state == DAMAGED:
        raise RunError(f"Run {run.id} is damaged ({run.status()['error']}); it cannot be trained further.")


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
    lock: FolderLock | None = None,
) -> TrainResult | None:
    """Train ``run`` in this process, keeping status.json true at every stage.

    First this process becomes the run's one worker (``Run.hold``: it adopts the lock a launcher
    handed down, or takes it; a second worker is refused before it writes anything), unless the
    caller passes the run's ``lock`` it holds already (``hold_for_resume``).
    ``exclusive`` (default: when training on the CPU) waits for the store-wide training lock.
    Returns ``None`` when the run failed (the error is in status.json and the log) or its folder
    was removed while it trained (then nothing is written at all). Ctrl-C (``KeyboardInterrupt``)
    records ``interrupted`` and is raised on: the caller (the CLI, a study) stops too, and a
    resume goes on from the last finished epoch as after any other interruption.
    """
    run_lock = lock if lock is not None else run.hold()
    stop = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(run, stop), daemon=True)
    try:
        with _sigterm_sets(stop):
            return _train_held(run, resume=resume, exclusive=exclusive, on_event=on_event, stop=stop, heartbeat=heartbeat)
    except FolderGone as exc:  # removed by hand: stop, and write nothing anywhere
        log.error("%s", exc)
        return None
    except CifarError as exc:
        log.error("run %s failed: %s", run.id, exc)
        _record_end(run, "failed", str(exc))
        return None
    except KeyboardInterrupt:
        _record_end(run, "interrupted", "stopped by Ctrl-C (SIGINT)")
        raise
    except Exception as exc:  # a bug: keep the traceback in the log, a sentence in the status
        traceback.print_exc()
        _record_end(run, "failed", f"{type(exc).__name__}: {exc}")
        return None
    finally:
        stop.set()
        if heartbeat.is_alive():
            heartbeat.join(timeout=HEARTBEAT_S * 2)
        run_lock.close()


def _train_held(
    run: Run,
    *,
    resume: bool,
    exclusive: bool | None,
    on_event: Callable[[dict[str, Any]], None] | None,
    stop: threading.Event,
    heartbeat: threading.Thread,
) -> TrainResult:
    """The run, from ``queued`` to its last status, in the process that holds its lock."""
    from cifar_core.device import resolve_device

    me = psutil.Process()
    # an earlier attempt's error and end are no longer true (a launch clears them too, a foreground resume only here)
    run.update_status(state="queued", pid=me.pid, pid_create_time=me.create_time(), heartbeat=time.time(), error=None, ended=None)
    config = run.config()
    if exclusive is None:
        exclusive = resolve_device(config.device).type == "cpu"
    clock_start = _budget_clock_start(run, me)
    with _training_turn(run, stop, exclusive) as queued_s:
        if queued_s is None:
            run.update_status(state="cancelled", ended=time.time())
            return TrainResult("cancelled", 0, None)
        run.update_status(state="running", started=run.raw_status().get("started") or time.time())
        heartbeat.start()
        # a budget does not pay for the queue
        result = _train_running(run, config, resume=resume, on_event=on_event, stop=stop, clock_start=clock_start + queued_s)
        run.update_status(state=result.status, ended=time.time(), best_val_acc=result.best_val_acc)
    return result


def _train_running(
    run: Run,
    config: TrainConfig,
    *,
    resume: bool,
    on_event: Callable[[dict[str, Any]], None] | None,
    stop: threading.Event,
    clock_start: float,
) -> TrainResult:
    """Load the data, pick up from last.pt on a resume, and train with every event in metrics.jsonl and TensorBoard."""
    from cifar_core.data import load_cifar

    data = load_cifar(config.data)
    state = _resume_point(run) if resume else None
    run.append_event({"type": "resume" if state else "launch", "time": time.time(), "epoch": state["epoch"] if state else 0})
    mirror = TensorBoardMirror(run.dir)

    def emit(event: dict[str, Any]) -> None:
        run.append_event(event)
        mirror(event)
        if on_event is not None:
            on_event(event)

    try:
        result = train(
            config,
            data,
            on_event=emit,
            save=lambda name, payload: _save(run, name, payload),
            should_stop=lambda: stop.is_set() or run.cancel_path.exists(),
            resume=state,
            clock_start=clock_start,
        )
        mirror.finish(config, result)  # hparams and final metrics for TensorBoard's HParams view
        return result
    finally:
        mirror.close()


def _resume_point(run: Run) -> dict[str, Any] | None:
    """last.pt's state, or None when there is none (training restarts from the first epoch).

    metrics.jsonl and best.pt are brought in line with it either way, whatever the crash point.
    """
    last = run.checkpoint_path("last")
    state = load_checkpoint(last) if last.is_file() else None
    reconcile(run, state)
    return state


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


def _record_end(run: Run, state: str, error: str) -> None:
    """Record how the run stopped, unless its folder is gone (then nothing is written)."""
    with contextlib.suppress(FolderGone):
        run.update_status(state=state, error=error, ended=time.time())


@contextlib.contextmanager
def _sigterm_sets(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM (``cancel``'s signal to a worker) sets ``stop``; only the main thread may install a handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _training_turn(run: Run, stop: threading.Event, exclusive: bool) -> Iterator[float | None]:
    """This run's turn to train: at once, or (``exclusive``) once it holds the store-wide lock, kept while inside.

    Yields the seconds spent queued, or None when the run was cancelled while it waited.
    """
    if not exclusive:
        yield 0.0
        return
    queued_since = time.time()
    handle = _acquire_training_lock(run, stop)
    if handle is None:
        yield None
        return
    try:
        yield time.time() - queued_since
    finally:
        handle.close()


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
