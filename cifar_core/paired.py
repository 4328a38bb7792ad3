"""Two runs scored on the same images: which images, which classes, how sure.

Both models answer every image, so their difference is *paired*: an image both get right (or
both wrong) says nothing about which is better; only the images that flipped do. The interval is
a paired bootstrap over images: resample the n images with replacement, keep each image's pair
of answers together, and take the 2.5th and 97.5th percentiles of accuracy(B) − accuracy(A). A
resample of n images only changes how many land in each of the three kinds of image (B right
and A wrong, both the same, A right and B wrong), so each resample is one multinomial draw of
those three counts: the exact same distribution as indexing images, without an n × resamples
index array. McNemar's exact test (a two-sided binomial test on the flipped images) gives the
p-value beside it.

Per class the same bootstrap runs over that class's images only (the class's recall delta).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from scipy.stats import binomtest

from cifar_core.calibration import BINNING, reliability
from cifar_core.errors import DataError, RunError
from cifar_core.evaluate import Evaluation, LoadedModel, evaluate, load_run_model, source_split_images, split_images
from cifar_core.models.inference import ImageProgress
from cifar_core.runs import Run
from cifar_core.runs.store import ACTIVE_STATES

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
TEST_METHOD = "McNemar's exact test (two-sided binomial test on the images that flipped)"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    @property
    def covers_zero(self) -> bool:
        return self.low <= 0 <= self.high

    def to_json(self) -> list[float]:
        return [self.low, self.high]


def _bootstrap(counts: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Interval bounds [2, K] of the mean of d in {+1, 0, −1} for K groups of (gained, same, lost) counts [K, 3].

    One multinomial draw per group and resample: resampling a group's images only moves how many of
    each kind it holds. A group without images gets NaN bounds.
    """
    totals = counts.sum(axis=1)
    shares = counts / np.maximum(totals, 1)[:, None]
    shares[totals == 0] = (0, 1, 0)
    draws = rng.multinomial(totals, shares, size=(resamples, len(counts)))  # [R, K, 3]
    deltas = (draws[..., 0] - draws[..., 2]) / np.maximum(totals, 1)
    tail = (1 - LEVEL) / 2
    bounds = np.quantile(deltas, [tail, 1 - tail], axis=0)
    bounds[:, totals == 0] = np.nan
    return bounds


@dataclass
class PairedComparison:
    """Run B against run A on one labelled image set (B − A throughout)."""

    a: Evaluation
    b: Evaluation
    resamples: int = RESAMPLES
    seed: int = SEED
    interval: Interval = field(init=False)
    class_intervals: list[Interval] = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        kinds = self._kinds()  # [N] +1 gained, 0 same, −1 lost
        labels = self.a.labels.numpy()
        classes = len(self.classes)
        per_class = np.zeros((classes + 1, 3), dtype=np.int64)
        for column, kind in enumerate((1, 0, -1)):
            per_class[:classes, column] = np.bincount(labels[kinds == kind], minlength=classes)
        per_class[classes] = per_class[:classes].sum(axis=0)
        bounds = _bootstrap(per_class, rng, self.resamples)
        intervals = [Interval(float(low), float(high)) for low, high in bounds.T]
        self.class_intervals, self.interval = intervals[:classes], intervals[classes]

    def _kinds(self) -> np.ndarray:
        return self.right_b.numpy().astype(np.int64) - self.right_a.numpy().astype(np.int64)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.a.classes

    @property
    def n(self) -> int:
        return self.a.n

    @property
    def right_a(self) -> torch.Tensor:
        return self.a.preds == self.a.labels

    @property
    def right_b(self) -> torch.Tensor:
        return self.b.preds == self.b.labels

    @property
    def gained(self) -> torch.Tensor:
        """Images A got wrong and B right (wrong→right)."""
        return ~self.right_a & self.right_b

    @property
    def lost(self) -> torch.Tensor:
        """Images A got right and B wrong (right→wrong)."""
        return self.right_a & ~self.right_b

    @property
    def accuracy_a(self) -> Fraction:
        return Fraction(int(self.right_a.sum()), self.n)

    @property
    def accuracy_b(self) -> Fraction:
        return Fraction(int(self.right_b.sum()), self.n)

    @property
    def difference(self) -> Fraction:
        """accuracy(B) − accuracy(A), exactly: (wrong→right − right→wrong) / n."""
        return Fraction(int(self.gained.sum()) - int(self.lost.sum()), self.n)

    @property
    def mcnemar_p(self) -> float:
        gained, lost = int(self.gained.sum()), int(self.lost.sum())
        if gained + lost == 0:
            return 1.0
        return float(binomtest(gained, gained + lost, 0.5).pvalue)

    def class_deltas(self) -> list[dict[str, Any]]:
        """Per class: support, recall of A and B, the exact delta and its interval."""
        labels = self.a.labels
        rows = []
        for index, name in enumerate(self.classes):
            mine = labels == index
            support = int(mine.sum())
            right_a, right_b = int((self.right_a & mine).sum()), int((self.right_b & mine).sum())
            delta = Fraction(right_b - right_a, support) if support else None
            rows.append(
                {
                    "class": name,
                    "support": support,
                    "accuracy_a": right_a / support if support else None,
                    "accuracy_b": right_b / support if support else None,
                    "delta": delta,
                    "interval": self.class_intervals[index],
                }
            )
        return rows

    @property
    def confusion_difference(self) -> torch.Tensor:
        """confusion(B) − confusion(A): each row sums to 0 (both saw the same true classes)."""
        return self.b.confusion.long() - self.a.confusion.long()

    def moved(self, true_class: int, predicted_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the images behind one cell of the difference: (moved in, moved out).

        Moved in: true ``true_class``, B says ``predicted_class``, A said something else. Moved out:
        A said ``predicted_class``, B says something else. In minus out is the cell's value exactly.
        """
        of_class = self.a.labels == true_class
        in_a, in_b = self.a.preds == predicted_class, self.b.preds == predicted_class
        return (of_class & in_b & ~in_a).nonzero().flatten(), (of_class & in_a & ~in_b).nonzero().flatten()

    def describe(self, rows: torch.Tensor, limit: int | None = None) -> list[dict[str, Any]]:
        """Both models' top prediction and confidence for ``rows``, the surest of B's answers first."""
        confidence_b = self.b.probs[rows].max(dim=1).values
        rows = rows[confidence_b.argsort(descending=True, stable=True)][:limit]
        top_a, top_b = self.a.probs[rows].max(dim=1), self.b.probs[rows].max(dim=1)
        return [
            {
                "row": int(row),
                "index": int(self.a.indices[row]),
                "true": self.classes[int(self.a.labels[row])],
                "a": {"predicted": self.classes[int(pa)], "confidence": float(ca)},
                "b": {"predicted": self.classes[int(pb)], "confidence": float(cb)},
            }
            for row, pa, ca, pb, cb in zip(rows, top_a.indices, top_a.values, top_b.indices, top_b.values)
        ]

    def flips(self, limit: int | None = None) -> dict[str, list[dict[str, Any]]]:
        return {
            "right_to_wrong": self.describe(self.lost.nonzero().flatten(), limit),
            "wrong_to_right": self.describe(self.gained.nonzero().flatten(), limit),
        }

    def summary(self, name_a: str = "A", name_b: str = "B") -> str:
        """One sentence; it names a winner only when the interval excludes 0."""
        points = 100 * float(self.difference)
        low, high = 100 * self.interval.low, 100 * self.interval.high
        evidence = (
            f"{points:+.1f} points, 95% paired-bootstrap interval {low:+.1f} to {high:+.1f}, "
            f"McNemar exact p = {self.mcnemar_p:.3g}, on {self.n:,} images"
        )
        if self.interval.covers_zero:
            return f"No difference we can tell between {name_b} and {name_a} ({evidence})."
        better = "more" if points > 0 else "fewer"
        return f"{name_b} gets {better} images right than {name_a} ({evidence})."

    def to_json(self, name_a: str = "A", name_b: str = "B", flip_limit: int | None = None) -> dict[str, Any]:
        """Plain JSON types; an undefined number (a class without images) is None, never NaN."""

        def number(value: Any) -> float | None:
            return None if value is None or not np.isfinite(float(value)) else float(value)

        def interval(value: Interval) -> list[float | None]:
            return [number(value.low), number(value.high)]

        return {
            "n": self.n,
            "classes": list(self.classes),
            "accuracy_a": float(self.accuracy_a),
            "accuracy_b": float(self.accuracy_b),
            "difference": float(self.difference),
            "right_to_wrong": int(self.lost.sum()),
            "wrong_to_right": int(self.gained.sum()),
            "interval": interval(self.interval),
            "interval_level": LEVEL,
            "interval_method": f"paired bootstrap over images ({self.resamples} resamples, seed {self.seed})",
            "mcnemar_p": self.mcnemar_p,
            "test_method": TEST_METHOD,
            "summary": self.summary(name_a, name_b),
            "per_class": [{**row, "delta": number(row["delta"]), "interval": interval(row["interval"])} for row in self.class_deltas()],
            "confusion_difference": self.confusion_difference.tolist(),
            "flips": self.flips(flip_limit),
            "calibration": {
                "binning": BINNING,
                "a": _calibration_json(self.a),
                "b": _calibration_json(self.b),
            },
        }


def _calibration_json(evaluation: Evaluation) -> dict[str, Any]:
    bins = reliability(evaluation.probs, evaluation.labels)
    return {"ece": bins.ece, "reliability": bins.to_json()}


def compare_evaluations(a: Evaluation, b: Evaluation, *, resamples: int = RESAMPLES, seed: int = SEED) -> PairedComparison:
    """Pair two evaluations of the same images; a ``DataError`` if they scored different ones."""
    if a.classes != b.classes:
        raise DataError("The two runs predict different classes, so their answers cannot be compared.")
    if not (torch.equal(a.indices, b.indices) and torch.equal(a.labels, b.labels)):
        raise DataError("The two runs were scored on different images, so their answers cannot be paired.")
    if a.n == 0:
        raise DataError("There are no images to compare the two runs on.")
    return PairedComparison(a, b, resamples=resamples, seed=seed)


def check_pair(run_a: Run, run_b: Run) -> None:
    """Refuse pairs no comparison can mean anything for: one run twice, or a run whose weights still change."""
    if run_a.dir.resolve() == run_b.dir.resolve():
        raise RunError(f"Both runs are {run_a.id}; pick two different runs to compare.")
    for run in (run_a, run_b):
        if run.state in ACTIVE_STATES:
            raise RunError(f"Run {run.id} is still training, so its answers change with every epoch; compare it once it has finished.")


def check_classes(loaded_a: LoadedModel, loaded_b: LoadedModel, run_a: Run, run_b: Run) -> None:
    if loaded_a.classes != loaded_b.classes:
        raise DataError(f"Runs {run_a.id} and {run_b.id} were trained on different class sets, so their answers cannot be compared.")


def paired_images(loaded_a: LoadedModel, loaded_b: LoadedModel, data, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The images both runs are scored on: a labelled split of ``data``, or the validation images both held out.

    A run's ``val``/``train`` part is chosen by its own seed and settings, so it is only shared
    when both runs chose the same images on this source.
    """
    if split not in ("val", "train"):
        return source_split_images(data, split)
    if loaded_a.config.data != loaded_b.config.data:
        raise DataError(f"The two runs trained on different data, so they hold out different {split} images; compare them on a test set.")
    images, labels, indices = split_images(loaded_a.config, data, split)
    _, _, other = split_images(loaded_b.config, data, split)
    if not torch.equal(indices, other):
        raise DataError(f"The two runs hold out different {split} images (their seeds or splits differ); compare them on a test set.")
    return images, labels, indices


def compare_runs(
    run_a: Run,
    run_b: Run,
    data,
    split: str = "test",
    *,
    which: str = "best",
    device: str = "auto",
    resamples: int = RESAMPLES,
    seed: int = SEED,
    progress: ImageProgress | None = None,
) -> PairedComparison:
    """Score both runs' models on the same labelled images of ``data`` and pair their answers.

    ``progress`` hears (images scored, images to score) over both models: twice the image count in all.
    """
    check_pair(run_a, run_b)
    loaded_a, loaded_b = load_run_model(run_a, which, device), load_run_model(run_b, which, device)
    check_classes(loaded_a, loaded_b, run_a, run_b)
    images, labels, indices = paired_images(loaded_a, loaded_b, data, split)
    first = None if progress is None else lambda done, total: progress(done, 2 * total)
    second = None if progress is None else lambda done, total: progress(total + done, 2 * total)
    return compare_evaluations(
        evaluate(loaded_a, images, labels, indices, progress=first),
        evaluate(loaded_b, images, labels, indices, progress=second),
        resamples=resamples,
        seed=seed,
    )
