"""A study's folder: ``<runs root>/studies/<study id>/`` (or any folder the user names).

It holds ``study.json`` (the definition and the run id of every variant and seed, written once),
``status.json`` (who is driving the study: pid, state), ``results.csv`` (one row per variant,
rewritten atomically as runs finish), ``results_runs.csv`` (one row per run) and ``log.txt`` of a
background driver. The runs themselves stay ordinary run folders in the runs root, so the Runs
page, ``runs list`` and evaluation treat them like any other run. The runs root ignores this
folder: it has no ``config.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.runs.atomic import write_json_atomic
from cifar_core.runs.store import LAUNCH_GRACE_S, process_alive, validate_run_id
from cifar_core.study.definition import Study

ACTIVE = ("queued", "running")
STUDIES_DIR = "studies"


class StudyFolder:
    """A handle on one study folder; every read goes to disk, so any process sees the same study."""

    def __init__(self, directory: Path | str):
        self.dir = Path(directory)

    @property
    def study_path(self) -> Path:
        return self.dir / "study.json"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def results_path(self) -> Path:
        return self.dir / "results.csv"

    @property
    def run_results_path(self) -> Path:
        return self.dir / "results_runs.csv"

    @property
    def cancel_path(self) -> Path:
        return self.dir / "cancel.request"

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    @classmethod
    def create(cls, directory: Path | str, study: Study) -> StudyFolder:
        """Write a new study folder; an existing study there is never overwritten."""
        folder = cls(directory)
        if folder.study_path.exists():
            raise RunError(f"{folder.dir} already holds a study; choose another folder.")
        folder.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder.study_path, study.to_dict())
        write_json_atomic(folder.status_path, {"state": "created", "created": time.time(), "pid": None})
        return folder

    def study(self) -> Study:
        try:
            return Study.from_dict(json.loads(self.study_path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise RunError(f"{self.dir} has no readable study.json ({exc}).") from exc

    def store(self) -> RunStore:
        """The runs root this study's runs live in."""
        return RunStore(self.study().runs_root)

    def raw_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {"state": "interrupted", "error": "status.json is missing or unreadable"}

    def update_status(self, **fields: Any) -> None:
        write_json_atomic(self.status_path, {**self.raw_status(), **fields})

    def status(self) -> dict[str, Any]:
        """status.json with an active state corrected to ``interrupted`` when its driver is gone."""
        status = self.raw_status()
        if status.get("state") in ACTIVE:
            pid = status.get("pid")
            if pid is None and time.time() - status.get("launched", 0) > LAUNCH_GRACE_S:
                status.update(state="interrupted", error="the study's driver process never started")
            elif pid is not None and not process_alive(pid, status.get("pid_create_time")):
                status.update(state="interrupted", error="the study's driver stopped before the study finished")
        return status

    def request_cancel(self) -> None:
        self.cancel_path.write_text(str(time.time()))

    def cancel_requested(self) -> bool:
        return self.cancel_path.exists()


def studies_root(runs_root: Path | str | None = None) -> Path:
    """Where studies live by default: ``<runs root>/studies``."""
    return RunStore(runs_root).root / STUDIES_DIR


def list_studies(runs_root: Path | str | None = None) -> list[StudyFolder]:
    """Studies under the runs root, newest first."""
    root = studies_root(runs_root)
    if not root.is_dir():
        return []
    folders = [StudyFolder(child) for child in root.iterdir() if (child / "study.json").is_file()]
    return sorted(folders, key=lambda folder: folder.raw_status().get("created", 0), reverse=True)


def find_study(name: str, runs_root: Path | str | None = None) -> StudyFolder:
    """A study by id (under the runs root) or by folder path."""
    path = Path(name).expanduser()
    if "/" not in name:
        path = studies_root(runs_root) / validate_run_id(name)
    folder = StudyFolder(path)
    if not folder.study_path.is_file():
        raise RunError(f"No study at {path}: it has no study.json.")
    return folder
