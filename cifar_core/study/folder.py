"""A study's folder: ``<runs root>/studies/<study id>/`` (or any folder the user names).

It holds ``study.json`` (the definition and the run id of every variant and seed, written once),
``status.json`` (who is driving the study: pid, state), ``results.csv`` (one row per variant,
rewritten atomically as runs finish), ``results_runs.csv`` (one row per run) and ``log.txt`` of a
background driver. The runs themselves stay ordinary run folders in the runs root, so the Runs
page, ``runs list`` and evaluation treat them like any other run. The run store's listing skips
``studies/``: it holds neither the store's marker nor a ``config.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.runs.atomic import write_json_atomic
from cifar_core.runs.procfolder import ACTIVE_STATES, ProcessFolder
from cifar_core.runs.store import validate_run_id
from cifar_core.study.definition import Study

ACTIVE = ACTIVE_STATES
STUDIES_DIR = "studies"


class StudyFolder(ProcessFolder):
    """A handle on one study folder; status, lock, liveness and cancel follow the same rules as a run's."""

    STATES = ("created", "queued", "running", "finished", "failed", "cancelled", "interrupted")
    NOUN = "Study"
    PROCESS = "the study's driver"

    @property
    def study_path(self) -> Path:
        return self.dir / "study.json"

    @property
    def results_path(self) -> Path:
        return self.dir / "results.csv"

    @property
    def run_results_path(self) -> Path:
        return self.dir / "results_runs.csv"

    def worker_args(self) -> list[str]:
        return ["study", "--worker", str(self.dir.resolve())]

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
