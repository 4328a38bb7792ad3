"""One study driver: whichever executor trains the runs, the driver holds the study's lock and
records its pid with its start time, so a study reads ``running`` while it is driven and a
second driver (the CLI, the page's Resume) is refused in one sentence."""

from __future__ import annotations

import json
import threading

import psutil
import pytest
from study_support import tiny_base

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.runs.store import MARKER_NAME
from cifar_core.study import StudyFolder, drive, launch_driver, studies_root
from cifar_core.study.definition import plan_study
from cifar_core.study.execution import drive_with


@pytest.fixture
def folder(tmp_path) -> StudyFolder:
    study = plan_study(tiny_base(epochs=1), tmp_path, grid="dropout=0,0.3", seeds=1)
    return StudyFolder.create(studies_root(tmp_path) / study.id, study)


def test_a_driven_study_reads_running_and_a_second_driver_is_refused(folder: StudyFolder) -> None:
    inside, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def blocking_executor(study_folder, todo, on_start) -> None:
        seen["todo"] = [planned.run_id for _, planned in todo]
        inside.set()
        assert release.wait(timeout=60)

    outcome: dict[str, str] = {}
    driver = threading.Thread(target=lambda: outcome.update(state=drive_with(folder, blocking_executor, backend="test")))
    driver.start()
    try:
        assert inside.wait(timeout=60)
        status = folder.status()
        assert status["state"] == "running" and status["backend"] == "test"
        assert (status["pid"], status["pid_create_time"]) == (psutil.Process().pid, psutil.Process().create_time())
        with pytest.raises(RunError, match=rf"^Study {folder.dir.name} is already running\.$"):
            launch_driver(folder)  # the Experiments page's Resume
        with pytest.raises(RunError, match="already running in another process: one study, one process"):
            drive(folder, lambda run, resume: None)  # a second driver in any process
        assert folder.status()["state"] == "running"  # the refusals wrote nothing
    finally:
        release.set()
        driver.join(timeout=60)
    assert outcome == {"state": "finished"} and folder.status()["state"] == "finished"
    assert seen["todo"] == [planned.run_id for planned in folder.study().runs]


def test_a_driver_that_fails_leaves_the_study_failed_and_free_to_resume(folder: StudyFolder) -> None:
    def broken_executor(study_folder, todo, on_start) -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError):
        drive_with(folder, broken_executor)
    status = folder.status()
    assert status["state"] == "failed" and status["error"] == "OSError: disk gone"
    lock = folder.try_lock()
    assert lock is not None  # released: Resume may start a new driver
    lock.close()


def test_find_is_the_stores_one_answer_to_does_this_run_exist(tmp_path) -> None:
    store = RunStore(tmp_path)
    made = store.create(tiny_base(), "made")
    (tmp_path / "being-made").mkdir()
    (tmp_path / "being-made" / MARKER_NAME).write_text(json.dumps({"format": "cifar-explorer-run"}))
    (tmp_path / "older").mkdir()
    (tmp_path / "older" / "config.json").write_text(json.dumps(tiny_base().to_dict()))
    (tmp_path / "not-a-run").mkdir()
    assert store.find("made").dir == made.dir and store.find("missing") is None and store.find("not-a-run") is None
    assert all(store.find(name) is not None for name in ("being-made", "older"))  # the marker alone, or an older run's config
    assert sorted(run.id for run in store.list()) == ["being-made", "made", "older"]  # the same rule as the listing
