"""One folder per run, readable by hand and by any tool.

``checkpoints/<run_id>/`` holds ``config.json``, ``metrics.jsonl`` (append-only, one JSON event a
line), ``status.json`` (state, pid, heartbeat, error), ``best.pt``, ``last.pt`` and ``log.txt``.
Run ids reach us from URLs, widgets and the CLI, so they are checked against a strict pattern and
every path is confirmed to stay inside the store's root.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from cifar_core.errors import RunError
from cifar_core.runs.atomic import write_json_atomic
from cifar_core.runs.progress import Progress, progress_from_events
from cifar_core.train.config import TrainConfig

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
ACTIVE_STATES = ("queued", "running")
STATES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
# A launched worker that has not written its pid within this many seconds never started.
LAUNCH_GRACE_S = 60.0
# Serialises read-modify-write of status.json between a worker's threads (heartbeat vs. main).
_STATUS_LOCK = threading.Lock()


def default_runs_root() -> Path:
    """``$CIFAR_EXPLORER_RUNS`` or the project's ``checkpoints/`` folder."""
    override = os.environ.get("CIFAR_EXPLORER_RUNS")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "checkpoints"


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe folder name, else raise ``RunError``."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise RunError(
            f"Invalid run id {run_id!r}: use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return run_id


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """True if ``pid`` runs and is the same process (not a later one that reused the number)."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(process.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


class Run:
    """A handle on one run folder; every read goes to disk, so any process sees the same run."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.id = self.dir.name

    # paths -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.dir / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    @property
    def cancel_path(self) -> Path:
        return self.dir / "cancel.request"

    def checkpoint_path(self, which: str) -> Path:
        if which not in ("best", "last"):
            raise RunError(f"Checkpoint must be 'best' or 'last', not {which!r}.")
        return self.dir / f"{which}.pt"

    # config ------------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        try:
            return TrainConfig.from_dict(json.loads(self.config_path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"Run {self.id} has no readable config.json ({exc}).") from exc

    # status ------------------------------------------------------------------------------
    def raw_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {"state": "interrupted", "error": "status.json is missing or unreadable"}

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json (atomic rewrite)."""
        with _STATUS_LOCK:
            status = {**self.raw_status(), **fields}
            write_json_atomic(self.status_path, status)
        return status

    def status(self) -> dict[str, Any]:
        """status.json with ``state`` corrected to ``interrupted`` when its process is gone."""
        status = self.raw_status()
        if status.get("state") in ACTIVE_STATES:
            pid = status.get("pid")
            if pid is None:
                never_started = time.time() - status.get("launched", status.get("created", 0)) > LAUNCH_GRACE_S
                if status.get("launched") is None or never_started:
                    status["state"] = "interrupted"
                    status.setdefault("error", "the training process never started")
            elif not process_alive(pid, status.get("pid_create_time")):
                status["state"] = "interrupted"
                status["error"] = "the training process stopped without finishing (killed or crashed)"
        return status

    @property
    def state(self) -> str:
        return self.status()["state"]

    # metrics -----------------------------------------------------------------------------
    def append_event(self, event: dict[str, Any]) -> None:
        """Append one JSON line; a line is written in one call so readers see whole lines."""
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """All events (optionally of one type); a half-written last line is ignored."""
        try:
            lines = self.metrics_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event_type is None or event.get("type") == event_type:
                events.append(event)
        return events

    def progress(self) -> Progress:
        """Epochs and steps done and planned, the same way everywhere (see ``runs/progress.py``)."""
        try:
            config = self.config()
        except RunError:
            config = None
        return progress_from_events(self.events(), config)

    def summary(self) -> dict[str, Any]:
        """One row for run tables: status, model, key hyper-parameters, best accuracy, duration."""
        status = self.status()
        try:
            config = self.config().to_dict()
        except RunError:
            config = {}
        epochs = self.events("epoch")
        progress = self.progress()
        val_accs = [e["val_acc"] for e in epochs if e.get("val_acc") is not None]
        started, ended = status.get("started"), status.get("ended") or status.get("heartbeat")
        return {
            "run_id": self.id,
            "state": status.get("state"),
            "model": config.get("model"),
            "dropout": config.get("dropout"),
            "aug_p": config.get("aug_p"),
            "mix_p": config.get("mix_p"),
            "batch_size": config.get("batch_size"),
            "lr": config.get("lr"),
            "epochs": config.get("epochs"),
            "epochs_done": progress.epochs_done,
            "epochs_planned": progress.epochs_planned,
            "best_val_acc": max(val_accs) if val_accs else None,
            "last_val_acc": val_accs[-1] if val_accs else None,
            "duration_s": (ended - started) if started and ended else None,
            "created": status.get("created"),
            "error": status.get("error"),
        }


class RunStore:
    """All runs under one root folder."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_runs_root()

    def path_for(self, run_id: str) -> Path:
        """The folder of ``run_id``, guaranteed to lie directly inside the root."""
        path = (self.root / validate_run_id(run_id)).resolve()
        if path.parent != self.root.resolve():
            raise RunError(f"Run id {run_id!r} points outside the runs folder.")
        return path

    def new_run_id(self, config: TrainConfig) -> str:
        return f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"

    def create(self, config: TrainConfig, run_id: str | None = None) -> Run:
        """Make a new run folder with its config and a ``queued`` status."""
        run_id = run_id or self.new_run_id(config)
        path = self.path_for(run_id)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise RunError(f"A run named {run_id!r} already exists in {self.root}.") from exc
        run = Run(path)
        write_json_atomic(run.config_path, config.to_dict())
        write_json_atomic(run.status_path, {"state": "queued", "pid": None, "created": time.time()})
        return run

    def get(self, run_id: str) -> Run:
        path = self.path_for(run_id)
        if not (path / "config.json").is_file():
            raise RunError(f"No run named {run_id!r} in {self.root}.")
        return Run(path)

    def list(self) -> list[Run]:
        """Runs, newest first (folders without a config.json are not runs)."""
        if not self.root.is_dir():
            return []
        runs = [
            Run(child)
            for child in self.root.iterdir()
            if child.is_dir() and RUN_ID_PATTERN.fullmatch(child.name) and (child / "config.json").is_file()
        ]
        return sorted(runs, key=lambda run: run.raw_status().get("created", 0), reverse=True)

    def delete(self, run_id: str) -> None:
        """Remove a run folder; an active run must be cancelled first."""
        run = self.get(run_id)
        if run.state in ACTIVE_STATES:
            raise RunError(f"Run {run_id} is {run.state}; cancel it before deleting.")
        shutil.rmtree(run.dir)
