"""Accuracy of one run on the same images, clean and under every transform of ``TRANSFORMS``.

Inference is batched (``LoadedModel.probabilities``); transforms run over chunks of images so
memory stays bounded at 10,000 images × 50 settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from cifar_core.data import CifarData, load_cifar
from cifar_core.errors import DataError, RunError
from cifar_core.evaluate import LoadedModel, load_run_model, split_images
from cifar_core.robustness.transforms import TRANSFORMS
from cifar_core.runs import Run
from cifar_core.runs.store import ACTIVE_STATES

CHUNK = 2000
"""Images transformed at a time: 2,000 float images are 25 MB, and per-chunk overhead stays small."""

SettingProgress = Callable[[int, int, str], None]
"""Called after each scored setting with (settings done, settings in all, the setting's label)."""


@dataclass
class RobustnessResult:
    """Accuracies of one model on one image set, clean and per transform × severity."""

    classes: tuple[str, ...]
    n: int
    clean_accuracy: float
    clean_per_class: list[float]
    accuracy: dict[str, dict[int, float]] = field(default_factory=dict)
    per_class: dict[str, dict[int, list[float]]] = field(default_factory=dict)

    @property
    def mca(self) -> float:
        """Mean corruption accuracy: the mean over every corruption × severity scored (CIFAR-10-C's mean, un-normalised)."""
        values = [acc for name, row in self.accuracy.items() if TRANSFORMS[name].kind == "corruption" for acc in row.values()]
        return sum(values) / len(values) if values else math.nan

    @property
    def mean_geometric_accuracy(self) -> float:
        values = [acc for name, row in self.accuracy.items() if TRANSFORMS[name].kind == "geometric" for acc in row.values()]
        return sum(values) / len(values) if values else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "classes": list(self.classes),
            "clean_accuracy": self.clean_accuracy,
            "clean_per_class": dict(zip(self.classes, self.clean_per_class)),
            "mca": _finite(self.mca),
            "mean_geometric_accuracy": _finite(self.mean_geometric_accuracy),
            "transforms": {
                name: {
                    "kind": TRANSFORMS[name].kind,
                    "severities": {
                        str(severity): {
                            "strength": _plain(TRANSFORMS[name].strengths[severity - 1]),
                            "accuracy": acc,
                            "per_class": dict(zip(self.classes, self.per_class[name][severity])),
                        }
                        for severity, acc in row.items()
                    },
                }
                for name, row in self.accuracy.items()
            },
        }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _plain(strength: Any) -> Any:
    return list(strength) if isinstance(strength, tuple) else strength


def _per_class(correct: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float]:
    """Accuracy of each class (NaN → None when a class has no image), one bincount, no loop over images."""
    totals = torch.bincount(labels, minlength=num_classes)
    hits = torch.bincount(labels, weights=correct.double(), minlength=num_classes)
    return [float(h / t) if t else None for h, t in zip(hits.tolist(), totals.tolist())]


def _correct(loaded: LoadedModel, images: torch.Tensor, labels: torch.Tensor, transform: Callable | None) -> torch.Tensor:
    parts = []
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK]
        if transform is not None:
            chunk = transform(chunk)
        parts.append(loaded.probabilities(chunk).argmax(dim=1).cpu())
    return torch.cat(parts) == labels


def score_model(
    loaded: LoadedModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    transforms: Iterable[str] | None = None,
    *,
    progress: SettingProgress | None = None,
) -> RobustnessResult:
    """Score ``loaded`` on uint8 ``images`` clean and under each named transform (default: all) at every severity."""
    names = list(transforms) if transforms is not None else list(TRANSFORMS)
    if unknown := [name for name in names if name not in TRANSFORMS]:
        raise DataError(f"Unknown transform {unknown[0]!r}; choose from {', '.join(TRANSFORMS)}.")
    labels = labels.cpu().long()
    num_classes = len(loaded.classes)
    clean = _correct(loaded, images, labels, None)
    result = RobustnessResult(loaded.classes, len(labels), clean.float().mean().item(), _per_class(clean, labels, num_classes))
    total = sum(len(TRANSFORMS[name].strengths) for name in names)
    done = 0
    for name in names:
        t = TRANSFORMS[name]
        result.accuracy[name], result.per_class[name] = {}, {}
        for severity in t.severities:
            correct = _correct(loaded, images, labels, lambda chunk, t=t, s=severity: t.apply(chunk, s))
            result.accuracy[name][severity] = correct.float().mean().item()
            result.per_class[name][severity] = _per_class(correct, labels, num_classes)
            done += 1
            if progress is not None:
                progress(done, total, t.label(severity))
    return result


def score_run(
    run: Run | LoadedModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    transforms: Iterable[str] | None = None,
    *,
    progress: SettingProgress | None = None,
) -> RobustnessResult:
    """``score_model`` for a run folder (its best checkpoint) or an already loaded model."""
    loaded = run if isinstance(run, LoadedModel) else load_scorable(run)
    return score_model(loaded, images, labels, transforms, progress=progress)


def load_scorable(run: Run, which: str = "best", device: str = "auto") -> LoadedModel:
    """The run's model, refused while the run is still training (its checkpoint is about to change)."""
    if run.state in ACTIVE_STATES:
        raise RunError(f"Run {run.id} is still {run.state}; score its robustness once it has finished.")
    return load_run_model(run, which, device)


def scoring_images(loaded: LoadedModel, data: CifarData | str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled images of ``split`` (evaluate's splits), refused when the source's classes are not the run's."""
    data = load_cifar(data) if isinstance(data, str) else data
    if tuple(data.classes) != tuple(loaded.classes):
        raise DataError(
            f"{data.source} has the classes {', '.join(data.classes)}, but the run was trained on {', '.join(loaded.classes)}; "
            "score it on a source with the same classes."
        )
    images, labels, _ = split_images(loaded.config, data, split)
    return images, labels
