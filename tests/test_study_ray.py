"""Studies on a local Ray: a 2-variant study end to end, a killed worker retried while the study reads running,
a bad address refused, the one study driver's lock and pid bookkeeping."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

ray = pytest.importorskip("ray")

from study_support import tiny_base  # noqa: E402
from support import wait_for  # noqa: E402

from cifar_core.cli import main  # noqa: E402
from cifar_core.errors import RunError  # noqa: E402
from cifar_core.study import StudyFolder, cancel_study, drive, launch_driver, studies_root  # noqa: E402
from cifar_core.study.definition import plan_study  # noqa: E402
from cifar_core.study.execution import background_run_one  # noqa: E402
from cifar_core.study.ray_backend import check_address, drive_on_ray  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}},
    )
    yield
    ray.shutdown()


def test_two_variant_study_runs_as_ray_tasks(local_ray, tmp_path: Path) -> None:
    study = plan_study(tiny_base(epochs=1), tmp_path, grid="dropout=0,0.3", seeds=1)
    folder = StudyFolder.create(studies_root(tmp_path) / study.id, study)
    assert drive_on_ray(folder) == "finished"
    results = pd.read_csv(folder.results_path)
    assert len(results) == 2 and (results["runs_finished"] == 1).all()
    store = folder.store()
    for planned in study.runs:
        run = store.get(planned.run_id)
        assert run.state == "finished" and len(run.events("epoch")) == 1
        assert run.raw_status()["pid"] != os.getpid()  # trained in a Ray worker, not here
    assert folder.status()["backend"] == "ray"


def test_killed_worker_is_retried_and_resumes(local_ray, tmp_path: Path) -> None:
    study = plan_study(tiny_base(epochs=6, limit=600), tmp_path, grid="dropout=0", seeds=1)
    folder = StudyFolder.create(studies_root(tmp_path) / study.id, study)
    outcome: dict[str, str] = {}
    driver = threading.Thread(target=lambda: outcome.update(state=drive_on_ray(folder)))
    driver.start()
    run_dir = tmp_path / study.runs[0].run_id
    status_file, metrics = run_dir / "status.json", run_dir / "metrics.jsonl"

    def epoch_done() -> bool:
        return status_file.is_file() and metrics.is_file() and '"type": "epoch"' in metrics.read_text()

    wait_for(epoch_done, timeout=120, interval=0.05, what="the run finishing an epoch")
    assert folder.status()["state"] == "running"  # its driver lives: not "interrupted"
    with pytest.raises(RunError, match=rf"^Study {study.id} is already running\.$"):
        launch_driver(folder)  # the Experiments page's Resume starts no second driver
    killed = folder.store().get(study.runs[0].run_id).raw_status()["pid"]
    os.kill(killed, signal.SIGKILL)
    driver.join(timeout=240)
    assert outcome.get("state") == "finished"
    run = folder.store().get(study.runs[0].run_id)
    assert run.state == "finished" and run.raw_status()["pid"] != killed
    assert [e["type"] for e in run.events() if e["type"] in ("launch", "resume")] == ["launch", "resume"]
    assert sorted({e["epoch"] for e in run.events("epoch")}) == list(range(1, 7))


def test_unreachable_address_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.time()
    with pytest.raises(RunError, match="No Ray cluster answers at 127.0.0.1:1"):
        check_address("127.0.0.1:1")
    with pytest.raises(RunError, match="is not HOST:PORT"):
        check_address("nonsense")
    code = main(
        [
            "study",
            "--grid",
            "dropout=0,0.3",
            "--data",
            "synthetic",
            "--epochs",
            "1",
            "--limit",
            "100",
            "--runs-root",
            str(tmp_path),
            "--backend",
            "ray",
            "--address",
            "127.0.0.1:1",
        ]
    )
    assert code == 2 and "No Ray cluster answers" in capsys.readouterr().err
    assert time.time() - started < 30
    assert not (tmp_path / "studies").exists()  # refused before anything was written


def test_a_ray_study_is_driven_by_the_one_driver_lock_pid_and_start_time(tmp_path: Path) -> None:
    """No cluster needed: the driver's bookkeeping comes before the connect, so an unreachable address shows it."""
    study = plan_study(tiny_base(epochs=1), tmp_path, grid="dropout=0", seeds=1)
    folder = StudyFolder.create(studies_root(tmp_path) / study.id, study)
    inside, release = threading.Event(), threading.Event()
    local = threading.Thread(target=lambda: drive(folder, lambda run, resume: (inside.set(), release.wait(timeout=60))))
    local.start()
    try:
        assert inside.wait(timeout=60)
        with pytest.raises(RunError, match="already running in another process: one study, one process"):
            drive_on_ray(folder, address="127.0.0.1:1")  # refused before it connects or writes anything
    finally:
        release.set()
        local.join(timeout=60)
    with pytest.raises(RunError, match="No Ray cluster answers at 127.0.0.1:1"):
        drive_on_ray(folder, address="127.0.0.1:1")
    status = folder.status()
    assert (status["pid"], status["pid_create_time"]) == (psutil.Process().pid, psutil.Process().create_time())
    assert status["state"] == "failed" and "No Ray cluster answers" in status["error"] and status["backend"] == "ray"


def _cancel_after_first_epoch(folder: StudyFolder, backend) -> str:
    """Drive ``folder`` with ``backend`` in a thread, cancel the study once its first run has an epoch; the driver's answer."""
    outcome: dict[str, str] = {}
    driver = threading.Thread(target=lambda: outcome.update(state=backend(folder)))
    driver.start()
    first = folder.store().root / folder.study().runs[0].run_id / "metrics.jsonl"
    wait_for(lambda: first.is_file() and '"type": "epoch"' in first.read_text(), timeout=180, interval=0.05, what="a finished epoch")
    cancel_study(folder)
    driver.join(timeout=180)
    assert not driver.is_alive()
    return outcome["state"]


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_cancel_stops_a_study_the_same_way_on_both_backends(local_ray, tmp_path: Path, backend: str) -> None:
    """Every run that started ends ``cancelled`` with its finished epochs kept, no run starts after the
    cancel, and the study reads ``cancelled``: on local processes and on Ray tasks alike."""
    study = plan_study(tiny_base(epochs=30, limit=600), tmp_path, grid="dropout=0,0.3", seeds=1)
    folder = StudyFolder.create(studies_root(tmp_path) / study.id, study)
    local = lambda folder: drive(folder, background_run_one(folder))  # noqa: E731 - what `study` runs on this machine
    assert _cancel_after_first_epoch(folder, local if backend == "local" else drive_on_ray) == "cancelled"
    assert folder.status()["state"] == "cancelled"
    store = folder.store()
    started = [run for run in map(store.find, (planned.run_id for planned in study.runs)) if run is not None]
    assert started and started[0].id == study.runs[0].run_id
    for run in started:
        wait_for(lambda run=run: run.state not in ("queued", "running"), timeout=60, what=f"{run.id} stopping")
        epochs = sorted(event["epoch"] for event in run.events("epoch"))
        assert run.state == "cancelled", (backend, run.id, run.state, run.status().get("error"))
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) < 30  # stopped early, finished epochs kept
    assert started[0].events("epoch") and (started[0].dir / "last.pt").is_file()
