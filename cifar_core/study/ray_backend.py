"""Studies on Ray: every planned run is a Ray task, so a sweep spreads over many CPUs, GPUs or machines.

The local queue (``execution.py``) stays the default. With ``--backend ray`` the study's one
driver (``execution.drive_with``, the same as a local study's: lock, pid, final state) connects
to a Ray cluster (``--address``, or a local one it starts) and submits one task per run that has
not finished; Ray places each where its resources are free (one GPU per run where the cluster has
GPUs, else ``cpus_per_run`` CPUs). A task trains an ordinary run folder with the same
``process.execute`` as everywhere else, so the study folder, the run folders, the Runs and
Experiments pages and ``study --show`` see a Ray study exactly like a local one. The runs root must
therefore be on a file system every node sees (the same path on each, e.g. NFS).

A task whose worker dies (a killed process, a lost node) is retried by Ray up to ``RETRIES`` times;
the retry finds the run interrupted and resumes it from its last finished epoch. A run still failing
after that is marked failed and the other runs go on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.study.definition import PlannedRun
from cifar_core.study.execution import DONE_STATES, Executor, OnStart, drive_with
from cifar_core.study.folder import StudyFolder
from cifar_core.study.results import refresh_results

RETRIES = 2
POLL_S = 1.0
CONNECT_TIMEOUT_S = 5.0


def check_address(address: str | None) -> None:
    """Refuse, in one sentence and within seconds, a cluster address nothing answers at.

    ``ray.init`` itself keeps retrying an unreachable address for a long time; a TCP connect to
    the head's port tells at once. ``auto`` (the cluster this machine belongs to) is left to Ray.
    """
    if not address or address == "auto":
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise RunError(f"Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379, from `ray start --head`).")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RunError(f"No Ray cluster answers at {address} ({exc.strerror or exc}); start one with `ray start --head`.") from exc


def _connect(address: str | None, num_cpus: int | None) -> None:
    import ray

    check_address(address)
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus, **options)


def _train_task(runs_root: str, run_id: str, config: dict[str, Any], cpus: int) -> str:
    """Body of one Ray task: create the run (first try) or resume it (a retry), and train it."""
    import torch

    from cifar_core.runs.process import execute
    from cifar_core.train import TrainConfig

    torch.set_num_threads(max(1, cpus))
    store = RunStore(runs_root)
    run = store.find(run_id)
    if run is not None:
        resume = run.checkpoint_path("last").is_file()
    else:
        run, resume = store.create(TrainConfig.from_dict(config), run_id), False
    execute(run, resume=resume, exclusive=False)
    return run.status()["state"]


def drive_on_ray(
    folder: StudyFolder,
    *,
    address: str | None = None,
    cpus_per_run: int = 1,
    num_cpus: int | None = None,
    on_start: OnStart | None = None,
) -> str:
    """Train every unfinished planned run as a Ray task; return the study's final state.

    The study is driven by ``execution.drive_with`` like a local one (its lock, pid and start
    time, final state), so it reads ``running`` while this process lives, from before the
    possibly slow connect to Ray on, and a second driver is refused; only the executor differs.
    """
    return drive_with(folder, ray_tasks(address, cpus_per_run, num_cpus), on_start, backend="ray", address=address)


def ray_tasks(address: str | None, cpus_per_run: int, num_cpus: int | None = None) -> Executor:
    """The Ray executor: connect, submit every unfinished run as a task at once, then wait for them."""

    def execute_all(folder: StudyFolder, todo: list[tuple[int, PlannedRun]], on_start: OnStart | None) -> None:
        task = _remote_task(address, cpus_per_run, num_cpus)
        study, store = folder.study(), folder.store()
        pending: dict[Any, str] = {}
        for index, planned in todo:
            if on_start is not None:
                on_start(index, planned)
            config = study.config_for(planned).to_dict()
            pending[task.remote(str(store.root), planned.run_id, config, cpus_per_run)] = planned.run_id
        _wait_for_tasks(folder, pending, store)

    return execute_all


def _remote_task(address: str | None, cpus_per_run: int, num_cpus: int | None) -> Any:
    """``_train_task`` as a Ray remote function: one GPU per run where the cluster has GPUs, else CPUs."""
    import ray

    _connect(address, num_cpus)
    gpus = ray.cluster_resources().get("GPU", 0)
    remote = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_train_task)
    return remote.options(num_gpus=1 if gpus >= 1 else 0, num_cpus=cpus_per_run)


def _wait_for_tasks(folder: StudyFolder, pending: dict[Any, str], store: RunStore) -> None:
    """Collect the tasks as they end (a failed one marks its run failed); a study cancel stops them all."""
    import ray

    while pending:
        if folder.cancel_requested():
            _cancel_all(pending, store)
            return
        done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        for ref in done:
            run_id = pending.pop(ref)
            try:
                ray.get(ref)
            except Exception as exc:  # retries exhausted: this run failed, the others go on
                _mark_failed(store, run_id, exc)
            refresh_results(folder)


def _cancel_all(pending: dict[Any, str], store: RunStore) -> None:
    """Stop the study: cancel requests for the started runs (they stop between steps) and the queued tasks."""
    import ray

    for ref, run_id in pending.items():
        run = store.find(run_id)
        if run is not None:
            with contextlib.suppress(RunError):  # its folder went away meanwhile: nothing to stop
                run.request_cancel()
        ray.cancel(ref)


def _mark_failed(store: RunStore, run_id: str, exc: Exception) -> None:
    run = store.find(run_id)
    if run is None:
        return
    if run.raw_status().get("state") not in DONE_STATES:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        run.update_status(state="failed", ended=time.time(), error=f"its Ray task failed after {RETRIES} retries: {reason}")
