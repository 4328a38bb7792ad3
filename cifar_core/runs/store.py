"""One folder per run, readable by hand and by any tool.

``checkpoints/<run_id>/`` holds ``config.json``, ``metrics.jsonl`` (append-only, one JSON event a
line), ``status.json`` (state, pid, heartbeat, error), ``best.pt``, ``last.pt``, ``log.txt``, the
worker's ``.lock`` and the store's marker ``.cifar-explorer-run``. Run ids reach us from URLs,
widgets and the CLI, so they are checked against a strict pattern and every path is confirmed to
stay inside the store's root.

A damaged run (a status, config or metrics file that is not what the store writes, or a folder
that cannot be read) is reported as state ``damaged`` with the reason; it never raises out of
``RunStore.list()``, ``Run.status()``, ``Run.events()`` or ``Run.summary()``, so one bad folder
cannot take down ``runs list`` or a page that lists runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from cifar_core.errors import CifarError, RunError
from cifar_core.paths import default_roots
from cifar_core.runs.atomic import is_disk_full, write_json_atomic
from cifar_core.runs.procfolder import ACTIVE_STATES, LOCK_NAME, ProcessFolder
from cifar_core.runs.progress import RunProgress, progress_from_events
from cifar_core.train.config import TrainConfig

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
STATES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
DAMAGED = "damaged"
MARKER_NAME = ".cifar-explorer-run"
MARKER_FORMAT = "cifar-explorer-run"
# Every name the store and its workers write into a run folder; ``delete`` removes nothing else.
RUN_FILES = frozenset(
    {
        MARKER_NAME,
        LOCK_NAME,
        "config.json",
        "status.json",
        "metrics.jsonl",
        "best.pt",
        "last.pt",
        "log.txt",
        "cancel.request",
        "notes.json",  # runs/notes.py: the name and notes a person gave the run
    }
)
# Sub-folders the store's own writers make in a run folder, each holding only regular files:
# TensorBoard's event files (runs/tensorboard.py) and the Explain page's caches (explain/cache.py).
RUN_FOLDERS = frozenset({"tensorboard", "explain"})
# The temp file of an interrupted atomic write of one of them (``.last.pt.k3j2x9.tmp``).
_TEMP_FILE = re.compile(r"\.(?P<name>[A-Za-z0-9_.-]+)\.[A-Za-z0-9_]+\.tmp")
# Event fields that must hold a number (or null) when present.
NUMBER_FIELDS = frozenset(
    {
        "time",
        "epoch",
        "step",
        "steps_per_epoch",
        "epoch_steps",
        "global_step",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "val_error",
        "lr",
        "epoch_s",
        "images_per_s",
        "eta_s",
        "epochs",
        "start_epoch",
        "steps",
    }
)


def default_runs_root() -> Path:
    """``$CIFAR_EXPLORER_RUNS``, else the checkout's ``checkpoints/`` or the per-user folder (``cifar_core.paths``)."""
    return default_roots().runs


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe folder name, else raise ``RunError``."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise RunError(
            f"Invalid run id {run_id!r}: a run id is 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "and never holds '/' or '..'."
        )
    return run_id


def is_run_file(name: str) -> bool:
    """True for a name the store writes into a run folder (or the temp file of one)."""
    temp = _TEMP_FILE.fullmatch(name)
    return name in RUN_FILES or (temp is not None and temp.group("name") in RUN_FILES)


def read_marker(directory: Path) -> dict[str, Any] | None:
    """The store's marker in ``directory`` if it is ours, else None."""
    try:
        marker = json.loads((directory / MARKER_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT else None


def foreign_reason(directory: Path) -> str | None:
    """Why ``directory`` is not a run folder the store may delete, or None when it is one.

    A run folder holds only regular files with the names the store writes, and either the store's
    marker (written first, when the store creates a run) or, for folders made before the marker
    existed, both config.json and status.json: every older run had those two from its first
    moment. A project folder (a config.json beside a ``src/``), a home folder or ``./`` fails the
    first rule, so deleting "a folder with a config.json" can never remove anything the store did
    not write: at worst it removes files of exactly the store's names.
    """
    try:
        entries = {entry.name: entry for entry in os.scandir(directory)}
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    others = sorted(
        name
        for name, entry in entries.items()
        if not (is_run_file(name) and _regular_file(entry)) and not (name in RUN_FOLDERS and _flat_folder(entry))
    )
    if others:
        shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
        return f"it holds {shown}, which the run store never writes"
    if MARKER_NAME in entries:
        return None if read_marker(directory) is not None else f"its {MARKER_NAME} is not the run store's"
    if {"config.json", "status.json"} <= set(entries):
        return None
    return f"it has neither the run store's {MARKER_NAME} marker nor config.json and status.json"


def _flat_folder(entry: os.DirEntry) -> bool:
    """A real folder (not a link) that holds regular files only."""
    try:
        if not entry.is_dir(follow_symlinks=False):
            return False
        return all(_regular_file(inner) for inner in os.scandir(entry.path))
    except OSError:
        return False


def _regular_file(entry: os.DirEntry) -> bool:
    try:
        return stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return False


class Run(ProcessFolder):
    """A handle on one run folder; every read goes to disk, so any process sees the same run."""

    STATES = STATES
    NOUN = "Run"
    PROCESS = "the training process"

    # paths -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.dir / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.jsonl"

    @property
    def marker_path(self) -> Path:
        return self.dir / MARKER_NAME

    def checkpoint_path(self, which: str) -> Path:
        if which not in ("best", "last"):
            raise RunError(f"Checkpoint must be 'best' or 'last', not {which!r}.")
        return self.dir / f"{which}.pt"

    def worker_args(self) -> list[str]:
        return ["runs", "worker", str(self.dir.resolve())]

    # config ------------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        """The run's config; a missing or damaged config.json is a ``RunError`` naming the fault."""
        try:
            values = json.loads(self.config_path.read_bytes())
        except OSError as exc:
            raise RunError(f"Run {self.id} has no readable config.json ({exc.strerror or exc}).") from exc
        except ValueError as exc:
            raise RunError(f"Run {self.id} has a config.json that is not valid JSON.") from exc
        if not isinstance(values, dict):
            raise RunError(f"Run {self.id} has a config.json that holds a {type(values).__name__}, not settings.")
        try:
            return TrainConfig.from_dict(values)
        except (CifarError, TypeError, ValueError) as exc:
            raise RunError(f"Run {self.id} has a damaged config.json: {exc}") from exc

    # status ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """status.json, liveness-corrected; ``damaged`` when status.json or config.json cannot be trusted."""
        status = super().status()
        if status["state"] not in ACTIVE_STATES and status["state"] != DAMAGED:
            try:
                self.config()
            except RunError as exc:
                status.update(state=DAMAGED, error=str(exc))
        return status

    # metrics -----------------------------------------------------------------------------
    def append_event(self, event: dict[str, Any]) -> None:
        """Append one JSON line; a line is written in one call so readers see whole lines.

        Appends only to the folder this process holds: a removed run folder is not re-created.
        """
        self.check_present()
        try:
            with open(self.metrics_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(event) + "\n")
        except FileNotFoundError as exc:
            raise self._gone() from exc

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """All well-formed events (optionally of one type); damaged lines are skipped (``summary`` reports them)."""
        events, _ = self._read_events()
        return events if event_type is None else [event for event in events if event["type"] == event_type]

    def _read_events(self) -> tuple[list[dict[str, Any]], str | None]:
        """(the well-formed events, the first damaged line's description or None).

        A last line without its newline is a write in progress (or cut off by a crash): it is
        skipped without calling the file damaged.
        """
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return [], None
        except OSError as exc:
            return [], f"metrics.jsonl cannot be read ({exc.strerror or exc})"
        lines = data.split(b"\n")
        if lines[-1]:
            lines = lines[:-1]  # unterminated: being written now
        events, problem = [], None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            event, fault = _event_or_fault(line)
            if event is None:
                problem = problem or f"metrics.jsonl line {number} {fault}"
            else:
                events.append(event)
        return events, problem

    def progress(self) -> RunProgress:
        """Epochs and steps done and planned, the same way everywhere (see ``runs/progress.py``)."""
        try:
            config = self.config()
        except RunError:
            config = None
        return progress_from_events(self.events(), config)

    def summary(self) -> dict[str, Any]:
        """One row for run tables: status, model, key hyper-parameters, best accuracy, duration.

        A damaged run gets state ``damaged`` and the reason as its error (a live worker keeps its
        active state, with the reason); whatever could still be read is filled in.
        """
        status = super().status()
        config: TrainConfig | None
        try:
            config, problem = self.config(), None  # parsed and checked once: runs list reads 1,000 of them
        except RunError as exc:
            config, problem = None, str(exc)
        events, metrics_problem = self._read_events()
        problem = (status["error"] if status["state"] == DAMAGED else None) or problem or metrics_problem
        state = status["state"]
        if problem and state not in ACTIVE_STATES:
            state = DAMAGED
        epochs = [event for event in events if event["type"] == "epoch"]
        progress = progress_from_events(events, config)
        val_accs = [e["val_acc"] for e in epochs if e.get("val_acc") is not None]
        started, ended = status.get("started"), status.get("ended") or status.get("heartbeat")
        return {
            "run_id": self.id,
            "state": state,
            "model": getattr(config, "model", None),
            "dropout": getattr(config, "dropout", None),
            "aug_p": getattr(config, "aug_p", None),
            "mix_p": getattr(config, "mix_p", None),
            "batch_size": getattr(config, "batch_size", None),
            "lr": getattr(config, "lr", None),
            "epochs": getattr(config, "epochs", None),
            "epochs_done": progress.epochs_done,
            "epochs_planned": progress.epochs_planned,
            "best_val_acc": max(val_accs) if val_accs else None,
            "last_val_acc": val_accs[-1] if val_accs else None,
            "duration_s": (ended - started) if started and ended else None,
            "created": status.get("created"),
            "error": problem or status.get("error"),
        }


def _event_or_fault(line: bytes) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """(the event a metrics line holds, None), or (None, what is wrong with the line)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None, "is not valid JSON text"
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None, "is not an event"
    for field in NUMBER_FIELDS.intersection(event):
        value = event[field]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return None, f"has a {field} that is not a number ({value!r})"
    return event, None


class RunStore:
    """All runs under one root folder."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_runs_root()

    def path_for(self, run_id: str) -> Path:
        """The folder of ``run_id``, guaranteed to lie directly inside the root (a link is refused)."""
        entry = self.root / validate_run_id(run_id)
        path = entry.resolve()
        if entry.is_symlink() or path.parent != self.root.resolve():
            raise RunError(f"Run id {run_id!r} points outside the runs folder.")
        return path

    def new_run_id(self, config: TrainConfig) -> str:
        return f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"

    def create(self, config: TrainConfig, run_id: str | None = None) -> Run:
        """Make a new run folder with its marker, config and a ``queued`` status.

        The folder is claimed by creating the marker exclusively, so two creators never share a
        folder; an existing *empty* folder may be claimed (``train --out`` a folder you just made).
        If anything fails (a full disk), everything written here is removed again, so no
        half-made folder blocks the name. The store's root may not be the filesystem root:
        ``train --out /`` or ``--out /x`` would scatter run folders over ``/``.
        """
        root = self.root.resolve()
        if root == Path(root.anchor):
            raise RunError(f"Refusing to keep runs directly in {root}: name a folder for them, e.g. --out ./checkpoints/my-run.")
        run_id = self.new_run_id(config) if run_id is None else run_id
        path = self.path_for(run_id)
        try:
            root.mkdir(parents=True, exist_ok=True)
            return _claim(path, run_id, config)
        except (OSError, CifarError) as exc:
            if is_disk_full(exc):
                raise RunError(f"Disk full: could not create run {run_id} in {root}; nothing was left behind.") from exc
            raise

    def find(self, run_id: str) -> Run | None:
        """The run named ``run_id`` if the store holds one (damaged runs included), else None.

        The one answer to "does this run exist?": a folder with the store's marker or, for runs
        made before the marker, a config.json; callers that plan runs ahead (studies) ask it
        rather than test files of their own.
        """
        path = self.path_for(run_id)
        return Run(path) if _looks_like_run(path) else None

    def locate(self, name: str) -> Run:
        """The run ``name`` means on a command line: a run id in this store, else a run folder's path.

        An id is looked up here first, whatever the current folder, so ``--run r1`` means the
        run ``runs list`` shows as ``r1``; a path (``../elsewhere/r1``) is for runs outside the store.
        A name that is neither is refused with both places it was looked for.
        """
        if "/" not in name and name not in (".", ".."):
            with contextlib.suppress(RunError):  # not a valid id: it can still be a path
                if (found := self.find(name)) is not None:
                    return found
        run = Run(Path(name).expanduser().resolve())
        if run.config_path.is_file():
            return run
        raise RunError(
            f"No run {name!r}: the runs folder {self.root} holds no run of that name, and {run.dir} is not a run folder (no config.json)."
        )

    def get(self, run_id: str) -> Run:
        """The run named ``run_id`` (damaged runs included, so they can be seen and deleted)."""
        run = self.find(run_id)
        if run is None:
            raise RunError(f"No run named {run_id!r} in {self.root}.")
        return run

    def list(self) -> list[Run]:
        """Runs, newest first: every folder with the store's marker or a config.json (unreadable ones too)."""
        try:
            children = list(self.root.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RunError(f"The runs folder {self.root} cannot be read ({exc.strerror or exc}).") from exc
        runs = [Run(child) for child in children if RUN_ID_PATTERN.fullmatch(child.name) and _looks_like_run(child)]
        return sorted(runs, key=_created, reverse=True)

    def delete(self, run_id: str) -> None:
        """Remove a run folder the store made (see ``foreign_reason``); anything else is refused and left alone.

        Files are removed one by one, by the names the store writes, and the folder last with
        ``rmdir``: a file that appears meanwhile makes the delete stop rather than vanish. The
        run's lock is held throughout, so no worker can start in the folder while it goes.
        """
        path = self.path_for(run_id)
        if not _looks_like_run(path):
            raise RunError(f"No run named {run_id!r} in {self.root}.")
        reason = foreign_reason(path)
        if reason:
            raise RunError(f"{path} is not a run folder the run store made ({reason}), so it was left untouched.")
        run = Run(path)
        lock = run.take_lock()
        if lock is None:
            raise RunError(f"Run {run_id} is in use by its worker; cancel it before deleting.")
        with lock:
            if run.state in ACTIVE_STATES:
                raise RunError(f"Run {run_id} is {run.state}; cancel it before deleting.")
            for entry in os.scandir(path):
                if entry.name in RUN_FOLDERS and _flat_folder(entry):
                    for inner in os.scandir(entry.path):
                        os.unlink(inner.path)
                    os.rmdir(entry.path)
                elif is_run_file(entry.name) and entry.name != MARKER_NAME:
                    os.unlink(entry.path)
            run.marker_path.unlink(missing_ok=True)
        try:
            os.rmdir(path)
        except OSError as exc:
            raise RunError(f"Run {run_id}'s files were removed, but new files appeared in {path}; it was left there.") from exc

    def discard_untrained(self, run: Run) -> bool:
        """Delete ``run`` if it failed before training anything (no epoch, no checkpoint); True if it did.

        A foreground ``train`` whose data would not load has printed its error already; its folder
        holds nothing worth keeping and would only block the name for the corrected retry.
        """
        untrained = not run.events("epoch") and not any(run.checkpoint_path(which).exists() for which in ("best", "last"))
        if run.raw_status()["state"] != "failed" or not untrained:
            return False
        self.delete(run.id)
        return True


def _claim(path: Path, run_id: str, config: TrainConfig) -> Run:
    """Create the run folder's marker (exclusively), config and status; undo all of it on failure."""
    made_folder = _make_folder(path)
    run = Run(path)
    try:
        fd = os.open(run.marker_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise RunError(f"A run named {run_id!r} already exists in {path.parent}.") from None
    except BaseException:
        if made_folder:
            _remove_quietly(path)
        raise
    try:
        created = time.time()
        with os.fdopen(fd, "w") as handle:
            json.dump({"format": MARKER_FORMAT, "run_id": run_id, "created": created}, handle)
        write_json_atomic(run.config_path, config.to_dict(), make_parent=False)
        write_json_atomic(run.status_path, {"state": "queued", "pid": None, "created": created}, make_parent=False)
    except BaseException:
        for name in ("status.json", "config.json", MARKER_NAME):
            (path / name).unlink(missing_ok=True)
        if made_folder:
            _remove_quietly(path)
        raise
    return run


def _make_folder(path: Path) -> bool:
    """Create ``path``; True if this call made it, False if an empty folder was already there."""
    try:
        path.mkdir()
        return True
    except FileExistsError:
        if path.is_dir() and not any(path.iterdir()):
            return False
        raise RunError(f"A run named {path.name!r} already exists in {path.parent}.") from None


def _remove_quietly(path: Path) -> None:
    try:
        os.rmdir(path)  # only ever an empty folder this call made
    except OSError:
        pass


def _looks_like_run(path: Path) -> bool:
    """A folder with the store's marker or a config.json; an unreadable folder counts (it is listed as damaged)."""
    try:
        if path.is_symlink() or not path.is_dir():
            return False
        return (path / MARKER_NAME).is_file() or (path / "config.json").is_file()
    except PermissionError:
        return True
    except OSError:
        return False


def _created(run: Run) -> float:
    created = run.raw_status().get("created")
    return created if isinstance(created, (int, float)) else 0.0
