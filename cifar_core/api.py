"""The Python API: load a source, train a model, score it, in three calls from a notebook or a script.

Each call is a thin front to what the CLI and the app already run: ``load_source`` is ``load_cifar``,
``train_model`` is the training engine (in memory) or ``runs.process.execute`` (into a run folder, exactly
as ``cifar-explorer train --out`` does), and ``evaluate_model`` is ``evaluate.evaluate`` on
``split_images``. ``docs/api.md`` has the example that ``tests/test_api.py`` runs.

The names are ``train_model`` and ``evaluate_model``, not ``train`` and ``evaluate``, because
``cifar_core.train`` and ``cifar_core.evaluate`` are the library's own modules: a package attribute cannot
be both, and whichever was imported last would win.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cifar_core.data import CifarData, load_cifar
from cifar_core.errors import RunError
from cifar_core.evaluate import Evaluation, LoadedModel, evaluate, load_run_model, model_from_checkpoint, split_images
from cifar_core.runs import Run, RunStore
from cifar_core.train import TrainConfig, TrainResult
from cifar_core.train import train as train_in_memory

__all__ = ["CifarData", "Evaluation", "LoadedModel", "TrainConfig", "TrainedRun", "evaluate_model", "load_source", "train_model"]

EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainedRun:
    """A trained model (the best epoch's weights, in eval mode) and how its training went."""

    loaded: LoadedModel
    result: TrainResult
    run: Run | None = None
    """The run folder when trained with ``out=...``; None for a run kept in memory only."""

    @property
    def model(self) -> nn.Module:
        return self.loaded.model

    @property
    def config(self) -> TrainConfig:
        return self.loaded.config

    @property
    def classes(self) -> tuple[str, ...]:
        return self.loaded.classes

    @property
    def status(self) -> str:
        """``finished``, or ``cancelled`` when a cancel request stopped a run folder's training early."""
        return self.result.status

    @property
    def epochs_done(self) -> int:
        return self.result.epochs_done

    @property
    def best_val_acc(self) -> float | None:
        return self.result.best_val_acc

    @property
    def history(self) -> list[dict[str, Any]]:
        """One record per epoch: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``confusion``, timings."""
        return self.result.history

    def probabilities(self, images: torch.Tensor, *, tta: str = "none") -> torch.Tensor:
        """Softmax probabilities [N, classes] for uint8 images [N, 3, 32, 32]."""
        return self.loaded.probabilities(images, tta=tta)


def load_source(path: str | os.PathLike[str] | None = None, *, resize: bool = False, download: bool = False) -> CifarData:
    """A dataset in any supported layout (folder or archive), ``"synthetic"`` for the demo set, or None for
    the project's data folder; decoded once and cached, so a second load is instant."""
    return load_cifar(path, resize=resize, download=download)


def train_model(
    config: TrainConfig | Mapping[str, Any],
    data: CifarData | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    on_event: EventSink | None = None,
) -> TrainedRun:
    """Train ``config`` on ``data`` (a loaded source or a path; default ``config.data``) and return the model.

    Without ``out`` nothing is written: the best epoch's weights are kept in memory. With ``out`` the run
    gets a run folder there, as ``cifar-explorer train --out`` makes (config, metrics, checkpoints), which
    every command and page can open; its worker reads the images from the source's path, so ``data`` must
    then be a source ``load_source`` reads back the same (a path, or ``"synthetic"``). ``on_event`` hears
    every step and epoch record, as ``metrics.jsonl`` holds them.
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    if data is None:
        data = config.data
    source = data.source if isinstance(data, CifarData) else (str(data) if data is not None else None)
    config = config.replace(data=source)  # the record says what it trained on
    if out is not None:
        return _train_into_folder(config, Path(out), on_event)
    images = data if isinstance(data, CifarData) else load_cifar(source)
    best: dict[str, Any] = {}

    def keep(name: str, state: dict[str, Any]) -> None:
        # the state holds the live parameters, which the next step changes: copy the best epoch's
        if name == "best":
            best.update(
                config=state["config"], classes=state["classes"], epoch=state["epoch"],
                model={key: value.detach().clone() for key, value in state["model"].items()},
            )  # fmt: skip

    result = train_in_memory(config, images, on_event=on_event or (lambda event: None), save=keep)
    if not best:
        raise RunError("Training stopped before its first epoch ended, so there is no model to return.")
    return TrainedRun(model_from_checkpoint(best, config.device, where="the trained weights"), result)


def _train_into_folder(config: TrainConfig, out: Path, on_event: EventSink | None) -> TrainedRun:
    """``train --out``: a run folder named ``out`` in the store at its parent, trained in this process."""
    from cifar_core.runs.process import execute

    out = out.expanduser().resolve()
    run = RunStore(out.parent).create(config, out.name)
    result = execute(run, on_event=on_event)
    if result is None:
        raise RunError(f"Run {run.id} failed: {run.summary()['error']} (log: {run.log_path}).")
    return TrainedRun(load_run_model(run, "best", config.device), result, run)


def evaluate_model(
    model: TrainedRun | LoadedModel | Run | str | os.PathLike[str],
    source: CifarData | str | os.PathLike[str] | None = None,
    split: str = "val",
    *,
    tta: str = "none",
    checkpoint: str = "best",
    device: str = "auto",
) -> Evaluation:
    """Score a trained model, or a run folder's ``checkpoint``, on ``split`` of ``source`` (default: its training source).

    ``val`` and ``train`` are the run's own parts of the source's training images (chosen by its seed, so only
    on the source it trained on); ``test`` is the source's whole labelled test split. The result has
    ``accuracy``, ``loss``, ``n``, ``confusion``, ``per_class()``, ``misclassified()`` and ``to_json()``.
    """
    if isinstance(model, TrainedRun):
        loaded = model.loaded
    elif isinstance(model, LoadedModel):
        loaded = model
    else:
        run = model if isinstance(model, Run) else Run(Path(model).expanduser().resolve())
        loaded = load_run_model(run, checkpoint, device)
    data = source if isinstance(source, CifarData) else load_cifar(source if source is not None else loaded.config.data)
    images, labels, indices = split_images(loaded.config, data, split)
    return evaluate(loaded, images, labels, indices, tta=tta)
