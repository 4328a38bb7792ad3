"""The one process-folder base: run folders and study folders follow the same status, liveness,
lock and signal rules, because both are the same code. Its two safety rules are tested here: one
folder, one worker; never signal a process not proved to be ours."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest
from support import tiny_config, wait_for

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.runs.process import cancel, execute, launch
from cifar_core.runs.procfolder import ProcessFolder
from cifar_core.study.definition import plan_study
from cifar_core.study.folder import StudyFolder


def make_run(tmp_path):
    return RunStore(tmp_path / "runs").create(tiny_config(), "the-run")


def make_study(tmp_path):
    study = plan_study(tiny_config(), tmp_path / "runs", grid="dropout=0.1,0.2")
    return StudyFolder.create(tmp_path / "study", study)


FOLDERS = {"run": make_run, "study": make_study}


@pytest.fixture
def sleeper():
    """A live process that is not any folder's worker."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def create_time(process) -> float:
    return psutil.Process(process.pid).create_time()


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_both_folders_are_the_one_base(tmp_path, kind):
    assert isinstance(FOLDERS[kind](tmp_path), ProcessFolder)


@pytest.fixture
def reaped():
    """Processes a test starts, killed when it ends (whatever its outcome)."""
    processes = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def disguised_worker(folder):
    """A live process whose command line is ``folder``'s detached worker."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-m", "cifar_core", *folder.worker_args()])


def lock_holder(folder, seconds: float = 120):
    """A live process that holds ``folder``'s lock for ``seconds``, as a foreground train or a study does; ready when returned."""
    folder.try_lock().close()  # make the lock file
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(float(sys.argv[2]))",
            str(folder.lock_path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_both_folders_apply_the_same_liveness_rules(tmp_path, kind, sleeper, reaped):
    folder = FOLDERS[kind](tmp_path)
    now = time.time()
    worker, holder = disguised_worker(folder), lock_holder(folder)
    reaped += [worker, holder]
    cases = [
        ({"state": "running", "pid": worker.pid, "pid_create_time": create_time(worker)}, "running"),  # its command line
        ({"state": "running", "pid": holder.pid, "pid_create_time": create_time(holder)}, "running"),  # it holds the lock
        ({"state": "running", "pid": sleeper.pid, "pid_create_time": create_time(sleeper)}, "interrupted"),  # alive, but not ours
        ({"state": "running", "pid": sleeper.pid}, "interrupted"),  # a live pid without its start time proves nothing
        ({"state": "running", "pid": sleeper.pid, "pid_create_time": create_time(sleeper) - 500}, "interrupted"),  # reused pid
        ({"state": "queued", "pid": None, "launched": now}, "queued"),
        ({"state": "queued", "pid": None, "launched": now - 3600}, "interrupted"),
        ({"state": "queued", "pid": None}, "interrupted"),
        ({"state": "running", "pid": "1234", "pid_create_time": now}, "damaged"),
        ({"state": "running", "pid": None, "launched": "now"}, "damaged"),
        ({"state": "exploded"}, "damaged"),
    ]
    for status, expected in cases:
        folder.status_path.write_text(json.dumps(status))
        assert folder.status()["state"] == expected, status
    folder.status_path.write_text("[]")
    assert folder.status()["state"] == "damaged" and "holds a list" in folder.status()["error"]


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_both_folders_refuse_a_second_process(tmp_path, kind):
    folder = FOLDERS[kind](tmp_path)
    with folder.hold():
        with pytest.raises(RunError, match="already .* in another process"):
            second_handle(folder).hold()
    with second_handle(folder).hold():  # released: the next one gets it
        pass


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_the_next_holder_removes_the_temp_file_of_a_status_write_a_kill_cut_short(tmp_path, kind):
    # kill -9 during a status.json write (a heartbeat's, every 2 s) leaves its temp file; unless
    # the next holder removes it, every such kill leaves one in the folder for good
    folder = FOLDERS[kind](tmp_path)
    status = folder.status_path.read_bytes()
    cut_short = folder.dir / ".status.json.k3j2x9.tmp"
    cut_short.write_text('{"state": "runn')
    someone_elses = folder.dir / ".notes.json.k3j2x9.tmp"  # not status.json's: written without the lock, so left alone
    someone_elses.write_text("{")
    with folder.hold():
        assert not cut_short.exists()
        assert someone_elses.exists() and folder.status_path.read_bytes() == status


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_a_process_that_is_not_the_worker_is_never_signalled(tmp_path, kind, sleeper, reaped):
    folder = FOLDERS[kind](tmp_path)
    folder.update_status(state="running", pid=sleeper.pid, pid_create_time=create_time(sleeper))
    assert folder.status()["state"] == "interrupted"
    assert not folder.is_our_worker(folder.raw_status())
    disguised = disguised_worker(folder)
    reaped.append(disguised)
    folder.update_status(pid=disguised.pid, pid_create_time=create_time(disguised))
    assert folder.is_our_worker(folder.status())
    other = type(folder)(folder.dir.parent / "other")
    assert not other.is_our_worker(folder.status())  # the right program, but another folder's worker
    holder = lock_holder(folder)  # proved the folder's own, but it drives the folder in-process: never signalled
    reaped.append(holder)
    folder.update_status(pid=holder.pid, pid_create_time=create_time(holder))
    assert folder.status()["state"] == "running" and not folder.is_our_worker(folder.status())


def test_cancel_never_signals_a_live_process_it_cannot_prove_is_the_worker(tmp_path, sleeper):
    run = make_run(tmp_path)
    run.update_status(state="running", pid=sleeper.pid, pid_create_time=create_time(sleeper), launched=time.time())
    cancel(run)
    time.sleep(0.5)
    assert sleeper.poll() is None and run.cancel_path.exists()
    run.cancel_path.unlink()
    run.update_status(pid_create_time=None)  # the probe: a live pid and no start time
    assert run.status()["state"] == "interrupted"
    cancel(run)
    time.sleep(0.5)
    assert sleeper.poll() is None and run.cancel_path.exists()


def test_a_foreground_execute_on_a_run_held_by_another_worker_is_refused_and_writes_nothing(tmp_path, sleeper):
    run = make_run(tmp_path)
    worker_status = run.update_status(state="running", pid=sleeper.pid, pid_create_time=create_time(sleeper))
    with run.hold():  # the worker's lock
        with pytest.raises(RunError, match="already running in another process"):
            execute(second_handle(run))
    assert run.raw_status() == worker_status


def second_handle(folder):
    """A second handle on the same folder, as another process would have."""
    return type(folder)(folder.dir)


def test_two_resumes_at_once_start_one_worker(tmp_path):
    run = make_run(tmp_path)
    run.update_status(state="interrupted")
    run.config_path.write_text(json.dumps(tiny_config(epochs=200).to_dict()))
    pid = launch(run, resume=True)
    with pytest.raises(RunError, match="already"):
        launch(second_handle(run), resume=True)
    try:
        wait_for(lambda: run.raw_status().get("pid") == pid and run.state == "running", timeout=120)
        workers = [p.pid for p in psutil.process_iter(["cmdline"]) if str(run.dir.resolve()) in (p.info["cmdline"] or [])]
        assert workers == [pid]
        with pytest.raises(RunError, match="already"):
            launch(second_handle(run), resume=True)
        assert run.raw_status()["pid"] == pid
    finally:
        cancel(run)
        wait_for(lambda: run.state not in ("queued", "running"), timeout=60)
    assert run.state == "cancelled"


def test_the_lock_of_a_process_that_just_died_is_waited_for_but_a_live_workers_is_not(tmp_path, sleeper):
    """A killed worker's lock outlives its main thread for a moment: a launch waits for it, briefly."""
    run = make_run(tmp_path)
    holder = lock_holder(run, seconds=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_started = create_time(dead)
    dead.wait()
    run.update_status(state="running", pid=dead.pid, pid_create_time=dead_started)
    started = time.monotonic()
    with run.hold():
        assert holder.wait(timeout=10) == 0 and time.monotonic() - started >= 1.0
    run.update_status(pid=sleeper.pid, pid_create_time=create_time(sleeper))
    with run.hold(), pytest.raises(RunError, match="already running"):
        started = time.monotonic()
        second_handle(run).hold()
    assert time.monotonic() - started < 1.0
