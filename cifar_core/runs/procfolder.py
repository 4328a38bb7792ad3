"""A folder driven by one detached process: its status file, its lock, its liveness, its cancel request.

Run folders (``runs/store.py``) and study folders (``study/folder.py``) share this base, so both
follow the same rules, written once:

- ``status.json`` is read defensively: a file that is not a JSON object, an unknown state, or a
  time, pid or start time of the wrong type reads as state ``damaged`` with the reason, never as
  an exception that takes the caller down.
- Liveness has one proof (``ProcessFolder.proof``), used by every reader and writer alike (status,
  hence ``runs list`` and the pages; delete; resume; cancel): an active state (``queued``/
  ``running``) counts only while the recorded pid runs, started at the recorded
  ``pid_create_time``, and is this folder's own process — its command line is this folder's
  detached worker, or it holds this folder's lock file open (a foreground ``train``, a study or a
  test driving the folder in its own process). A pid without its start time proves nothing (pid
  numbers are reused), and neither does a live process that status.json merely names (a stale or
  forged file naming a ``sleep``): both read as ``interrupted``.
- One folder, one process: the process that drives a folder holds an exclusive ``flock`` on
  ``<folder>/.lock`` for its whole life (the kernel drops it when the process dies, even on
  ``kill -9``). ``spawn`` takes the lock *before* it writes ``queued`` and hands the very lock to
  the child (an inherited descriptor, named in ``CIFAR_EXPLORER_LOCK_FD``), so two launches can
  never start two workers and a launcher never overwrites a live worker's status.
- The folder is never re-created: status writes go to an existing folder only, so a folder removed
  while its process works stays removed (``FolderGone`` tells the process to stop).
- Signals go only to a process proved to be this folder's detached worker: pid, start time and
  command line. A process driving the folder in-process polls the cancel file instead; a signal
  could stop the larger program it belongs to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from cifar_core.errors import RunError
from cifar_core.paths import CODE_ROOT
from cifar_core.runs.atomic import write_json_atomic

ACTIVE_STATES = ("queued", "running")
# A launched process that has not written its pid within this many seconds never started.
LAUNCH_GRACE_S = 60.0
LOCK_NAME = ".lock"
# How long a launch waits for the lock of a process that status.json shows has died.
LOCK_RELEASE_WAIT_S = 15.0
# How a launcher hands its lock to the child it spawns: the inherited descriptor's number.
LOCK_FD_ENV = "CIFAR_EXPLORER_LOCK_FD"
PROJECT_ROOT = CODE_ROOT
TIME_FIELDS = ("created", "launched", "started", "ended", "heartbeat", "pid_create_time")
# Serialises read-modify-write of status.json between one process's threads (heartbeat vs. main);
# between processes the folder lock does it.
_STATUS_LOCK = threading.Lock()


class FolderGone(RunError):
    """The folder was removed (or replaced) while its process worked on it."""


WORKER = "worker"
"""``ProcessFolder.proof``: the process's command line is this folder's detached worker."""
HOLDER = "holder"
"""``ProcessFolder.proof``: the process holds this folder's lock file open (it drives the folder in-process)."""


def process_alive(pid: Any, create_time: Any) -> bool:
    """True only if ``pid`` runs and started at ``create_time`` (not a later process that reused the number).

    Without ``create_time`` nothing is proved, so the answer is False. This says only that *a*
    process runs; whether it is a folder's own is ``ProcessFolder.proof``'s question.
    """
    if not _is_int(pid) or pid <= 0 or not _is_number(create_time):
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


def command_line(pid: int) -> list[str]:
    """The process's argument list, or [] when it cannot be read."""
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def has_open(pid: int, path: Path) -> bool:
    """True if process ``pid`` has the file ``path`` open (the same file: device and inode), False when unknown."""
    try:
        wanted = os.stat(path)
        files = psutil.Process(pid).open_files()
    except (OSError, psutil.Error):
        return False
    for item in files:
        if os.path.basename(item.path) != path.name:
            continue  # cheap first: a worker holds many files (torch's libraries), one of them the lock
        with contextlib.suppress(OSError):
            info = os.stat(item.path)
            if (info.st_dev, info.st_ino) == (wanted.st_dev, wanted.st_ino):
                return True
    return False


def spawn_detached(module_args: Sequence[str], log_path: Path, pass_fds: Sequence[int] = (), env: dict[str, str] | None = None) -> int:
    """Start ``python -m cifar_core *module_args`` detached (own session, log appended) and return its pid.

    The child runs in the folder that holds the ``cifar_core`` package this process imported (the
    checkout, or site-packages when installed); ``python -m`` puts its working folder first on the
    import path, so the child imports the same code without any PYTHONPATH of ours.
    """
    child_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "cifar_core", *module_args],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the app or the terminal that started it
            cwd=PROJECT_ROOT,
            env=child_env,
            pass_fds=tuple(pass_fds),
        )
    return process.pid


class FolderLock:
    """An exclusive ``flock`` on a folder's ``.lock`` file; released on ``close()`` or process death."""

    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessFolder:
    """Base of a folder that one process at a time drives; every read goes to disk."""

    STATES: tuple[str, ...] = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
    NOUN = "Folder"  # how messages name the folder: "Run x", "Study x"
    PROCESS = "the process"  # how messages name its process

    def __init__(self, directory: Path | str):
        self.dir = Path(directory)
        self.id = self.dir.name
        self._identity: tuple[int, int] | None = None  # (device, inode) while this process holds the lock

    # paths -------------------------------------------------------------------------------
    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def cancel_path(self) -> Path:
        return self.dir / "cancel.request"

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    @property
    def lock_path(self) -> Path:
        return self.dir / LOCK_NAME

    def worker_args(self) -> list[str]:
        """The arguments after ``python -m cifar_core`` of this folder's detached worker."""
        raise NotImplementedError

    # status ------------------------------------------------------------------------------
    def raw_status(self) -> dict[str, Any]:
        """status.json as written, or ``{"state": "damaged", "error": why}`` when it cannot be trusted."""
        try:
            status = json.loads(self.status_path.read_bytes())
        except FileNotFoundError:
            return {"state": "damaged", "error": "status.json is missing"}
        except OSError as exc:
            return {"state": "damaged", "error": f"status.json cannot be read ({exc.strerror or exc})"}
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            return {"state": "damaged", "error": "status.json is not valid JSON"}
        problem = self._status_problem(status)
        return {"state": "damaged", "error": f"status.json {problem}"} if problem else status

    def _status_problem(self, status: Any) -> str | None:
        if not isinstance(status, dict):
            return f"holds a {type(status).__name__}, not an object"
        if status.get("state") not in self.STATES:
            return f"has an unknown state {status.get('state')!r}"
        if status.get("pid") is not None and not _is_int(status["pid"]):
            return f"has a pid that is not a number ({status['pid']!r})"
        for field in TIME_FIELDS:
            if status.get(field) is not None and not _is_number(status[field]):
                return f"has a {field} that is not a time ({status[field]!r})"
        if status.get("error") is not None and not isinstance(status["error"], str):
            return "has an error that is not text"
        return None

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json (atomic rewrite); never re-creates a removed folder."""
        with _STATUS_LOCK:
            self.check_present()
            current = self.raw_status()
            if current["state"] == "damaged":
                current = {}  # start afresh rather than carry a damaged file's reason forward
            status = {**current, **fields}
            try:
                write_json_atomic(self.status_path, status, make_parent=False)
            except FileNotFoundError as exc:
                raise self._gone() from exc
        return status

    def status(self) -> dict[str, Any]:
        """status.json with an active state corrected to ``interrupted`` unless its process is proved alive."""
        status = self.raw_status()
        if status["state"] not in ACTIVE_STATES:
            return status
        pid, create_time = status.get("pid"), status.get("pid_create_time")
        if pid is None:
            launched = status.get("launched")
            if launched is None or time.time() - launched > LAUNCH_GRACE_S:
                status.update(state="interrupted", error=status.get("error") or f"{self.PROCESS} never started")
        elif create_time is None:
            status.update(
                state="interrupted",
                error=f"status.json names process {pid} without its start time, so it cannot be proved to be {self.PROCESS}",
            )
        elif not process_alive(pid, create_time):
            status.update(state="interrupted", error=f"{self.PROCESS} stopped without finishing (killed or crashed)")
        elif self._ownership(pid) is None:
            status.update(state="interrupted", error=f"status.json names process {pid}, which runs but is not {self.PROCESS}")
        return status

    @property
    def state(self) -> str:
        return self.status()["state"]

    # cancel ------------------------------------------------------------------------------
    def request_cancel(self) -> None:
        self.check_present()
        try:
            self.cancel_path.write_text(str(time.time()))
        except FileNotFoundError as exc:
            raise self._gone() from exc

    def cancel_requested(self) -> bool:
        return self.cancel_path.exists()

    def proof(self, status: dict[str, Any]) -> str | None:
        """How status.json's process is proved to be this folder's own: ``WORKER``, ``HOLDER``, or None.

        The one proof of liveness (module docstring): the pid runs and started at the recorded
        start time, and either its command line is this folder's detached worker (``WORKER``) or
        it holds this folder's lock file open (``HOLDER``: every process that drives a folder
        holds its lock for as long as status.json names it, so a foreground ``train`` or a study
        proves itself this way). A live process that is neither is not ours, whatever
        status.json says of it.
        """
        pid = status.get("pid")
        if not process_alive(pid, status.get("pid_create_time")):
            return None
        return self._ownership(pid)

    def _ownership(self, pid: int) -> str | None:
        """``proof``'s second half, for a pid already proved alive: ``WORKER``, ``HOLDER`` or None."""
        if _runs_command(command_line(pid), self.worker_args()):
            return WORKER
        return HOLDER if has_open(pid, self.lock_path) else None

    def is_our_worker(self, status: dict[str, Any]) -> bool:
        """True only when status.json's process is proved to be this folder's detached worker: the one a signal may reach."""
        return self.proof(status) == WORKER

    # lock --------------------------------------------------------------------------------
    def try_lock(self) -> FolderLock | None:
        """The folder's lock if no other process holds it, else None."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError as exc:
            raise self._gone() from exc
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            # Taking the lock is the first write every writer makes, so this one refusal covers them all.
            raise RunError(f"{self.NOUN} folder {self.dir} cannot be written ({exc.strerror}); nothing was changed.") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return FolderLock(fd)

    def take_lock(self) -> FolderLock | None:
        """``try_lock``, waiting a few seconds while status.json names a process that has died.

        A killed process's lock is released when its last thread has exited, which can trail the
        moment its main thread shows as dead (a zombie) by a while on a busy machine. Whether to
        wait asks only whether the named process has died; whether a process is the folder's own
        is ``proof``'s question, and the held lock has answered it already: someone drives it.
        """
        deadline = time.monotonic() + LOCK_RELEASE_WAIT_S
        while (lock := self.try_lock()) is None:
            status = self.raw_status()
            pid = status.get("pid")
            if pid is None or process_alive(pid, status.get("pid_create_time")) or time.monotonic() > deadline:
                return None
            time.sleep(0.1)
        return lock

    def hold(self) -> FolderLock:
        """Become the folder's one process: adopt the lock a launcher handed down, or take it; else refuse."""
        lock = self._adopt_lock() or self.take_lock()
        if lock is None:
            busy = self._busy_state()
            raise RunError(f"{self.NOUN} {self.id} is already {busy} in another process: one {self.NOUN.lower()}, one process.")
        self._identity = self._folder_identity()
        self._remove_interrupted_status_writes()
        return lock

    def _remove_interrupted_status_writes(self) -> None:
        """Remove the temp file of a status.json write that a killed process left (``.status.json.k3j2x9.tmp``).

        Only the lock's holder writes status.json (a launcher hands its lock to the worker it
        starts), so a temp file found by a new holder is a dead writer's; without this, every kill
        -9 that lands mid-write (the heartbeat writes every few seconds) leaves one behind for good.
        Done here, before this process writes its own status, never later: a heartbeat thread's
        write in progress would lose its temp file.
        """
        for leftover in self.dir.glob(f".{self.status_path.name}.*.tmp"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink(missing_ok=True)

    def spawn(self, extra_args: Sequence[str] = (), **status_fields: Any) -> int:
        """Take the lock, mark the folder ``queued``, start its detached worker holding that lock; return its pid.

        ``extra_args`` follow ``worker_args()`` on the worker's command line (e.g. ``--resume``).
        """
        lock = self.take_lock()
        if lock is None:
            raise RunError(f"{self.NOUN} {self.id} is already {self._busy_state()}: one {self.NOUN.lower()}, one process.")
        with lock:
            status = self.raw_status()
            if status["state"] in ACTIVE_STATES and self.proof(status) is not None:
                raise RunError(f"{self.NOUN} {self.id} is already {status['state']}.")  # a live process without the lock
            self.cancel_path.unlink(missing_ok=True)
            self.update_status(
                state="queued", pid=None, pid_create_time=None, launched=time.time(), error=None, ended=None, **status_fields
            )
            args = [*self.worker_args(), *extra_args]
            return spawn_detached(args, self.log_path, pass_fds=(lock.fd,), env={LOCK_FD_ENV: str(lock.fd)})

    def _busy_state(self) -> str:
        state = self.raw_status()["state"]
        return state if state in ACTIVE_STATES else "running"

    def _adopt_lock(self) -> FolderLock | None:
        """The lock our launcher passed down, if the inherited descriptor is this folder's lock file."""
        value = os.environ.pop(LOCK_FD_ENV, None)  # popped: our own children must not adopt it
        if value is None or not value.isdigit():
            return None
        fd = int(value)
        try:
            inherited, ours = os.fstat(fd), os.stat(self.lock_path)
        except OSError:
            return None
        if (inherited.st_dev, inherited.st_ino) != (ours.st_dev, ours.st_ino):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # already ours: the same open file description
        except OSError:
            return None
        os.set_inheritable(fd, False)
        return FolderLock(fd)

    # presence ----------------------------------------------------------------------------
    def check_present(self) -> None:
        """Raise ``FolderGone`` if the folder was removed, or replaced since this process took its lock."""
        identity = self._folder_identity()
        if identity is None or (self._identity is not None and identity != self._identity):
            raise self._gone()

    def _folder_identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.dir)
        except OSError:
            return None
        return (info.st_dev, info.st_ino)

    def _gone(self) -> FolderGone:
        return FolderGone(f"{self.NOUN} folder {self.dir} was removed while {self.PROCESS} worked on it; nothing was re-created.")


def _runs_command(cmdline: list[str], worker_args: list[str]) -> bool:
    """True if ``cmdline`` contains ``-m cifar_core`` followed by ``worker_args`` (paths compared resolved)."""
    wanted = ["-m", "cifar_core", *worker_args]
    for start in range(len(cmdline) - len(wanted) + 1):
        if all(_same_arg(have, want) for have, want in zip(cmdline[start : start + len(wanted)], wanted)):
            return True
    return False


def _same_arg(have: str, want: str) -> bool:
    if have == want:
        return True
    if os.sep in want:
        with contextlib.suppress(OSError, ValueError):
            return Path(have).resolve() == Path(want).resolve()
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
