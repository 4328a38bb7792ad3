"""Studies on Ray: every planned run is a Ray task, so a sweep spreads over many CPUs, GPUs or machines.

The local queue (``execution.py``) stays the default. With ``--backend ray`` the study's driver
connects to a Ray cluster (``--address``, or a local one it starts) and submits one task per run
that has not finished; Ray places each where its resources are free (one GPU per run where the
cluster has GPUs, else ``cpus_per_run`` CPUs). A task trains an ordinary run folder with the same
``process.execute`` as everywhere else, so the study folder, the run folders, the Runs and
Experiments pages and ``study --show`` see a Ray study exactly like a local one. The runs root must
therefore be on a file system every node sees (the same path on each, e.g. NFS).

A task whose worker dies (a killed process, a lost node) is retried by Ray up to ``RETRIES`` times;
the retry finds the run interrupted and resumes it from its last finished epoch. A run still failing
after that is marked failed and the other runs go on.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from cifar_core.errors import RunError
from cifar_core.runs import RunStore
from cifar_core.study.execution import DONE_STATES, OnStart
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
    path = store.root / run_id
    if (path / "config.json").is_file():
        run = store.get(run_id)
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
    """Train every unfinished planned run as a Ray task; return the study's final state."""
    import ray

    _connect(address, num_cpus)
    study = folder.study()
    store = RunStore(study.runs_root)
    gpus = ray.cluster_resources().get("GPU", 0)
    task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_train_task).options(
        num_gpus=1 if gpus >= 1 else 0, num_cpus=cpus_per_run
    )
    me_pid = os.getpid()
    folder.update_status(state="running", pid=me_pid, started=time.time(), error=None, backend="ray", address=address)
    pending: dict[Any, str] = {}
    for index, planned in enumerate(study.runs):
        path = store.root / planned.run_id
        if (path / "config.json").is_file() and store.get(planned.run_id).state in DONE_STATES:
            continue
        if on_start is not None:
            on_start(index, planned)
        config = study.config_for(planned).to_dict()
        pending[task.remote(str(store.root), planned.run_id, config, cpus_per_run)] = planned.run_id
    try:
        while pending:
            if folder.cancel_requested():
                _cancel_all(pending, store)
                break
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                run_id = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:  # retries exhausted: this run failed, the others go on
                    _mark_failed(store, run_id, exc)
                refresh_results(folder)
        state = "cancelled" if folder.cancel_requested() else "finished"
        folder.update_status(state=state, ended=time.time())
        return state
    except BaseException as exc:
        folder.update_status(state="interrupted", ended=time.time(), error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        refresh_results(folder)


def _cancel_all(pending: dict[Any, str], store: RunStore) -> None:
    """Stop the study: cancel files for the runs (they stop between steps) and the queued tasks."""
    import ray

    for ref, run_id in pending.items():
        path = store.root / run_id
        if path.is_dir():
            (path / "cancel.request").write_text(str(time.time()))
        ray.cancel(ref)


def _mark_failed(store: RunStore, run_id: str, exc: Exception) -> None:
    path = store.root / run_id
    if not (path / "config.json").is_file():
        return
    run = store.get(run_id)
    if run.raw_status().get("state") not in DONE_STATES:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        run.update_status(state="failed", ended=time.time(), error=f"its Ray task failed after {RETRIES} retries: {reason}")
