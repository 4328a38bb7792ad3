"""Is a variant better than the reference, or is the difference inside the seed noise?

Every variant of a study trains once per seed, and the seed fixes the initial weights, the image
order and the random augmentations while every run validates on the same images. Two runs with
the same seed are therefore a pair: the difference within a pair removes whatever that seed made
easy or hard for both, and the spread of those differences is the noise a claim must beat.

For each variant: the mean over its finished seeds with a 95% t-interval, and the mean paired
difference from the reference with its own 95% t-interval. A variant is called better or worse
only where that paired interval excludes zero; otherwise the verdict is "no detectable difference
at this size". A variant with a chance-level run (``runs.health.chance_warning``, the rule the
Train and Runs pages use) is never named best: its runs did not learn, so its accuracy says
nothing about the regulariser. The sentences quote the
numbers they were computed from, so the page never states a result by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
BETTER, WORSE, REFERENCE, AT_CHANCE = "better", "worse", "reference", "at chance"
NO_DIFFERENCE = "no detectable difference at this size"
TOO_FEW = "too few paired seeds to tell"
FINISHED = "finished"


@dataclass(frozen=True)
class Interval:
    """A mean with the half-width of its t-interval (NaN with fewer than two values)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def excludes_zero(self) -> bool:
        return self.n >= 2 and not math.isnan(self.half_width) and (self.low > 0 or self.high < 0)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean ± t(1 - α/2, n - 1) · s / √n over the finite values."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = len(array)
    if n == 0:
        return Interval(math.nan, math.nan, 0)
    mean = float(array.mean())
    if n < 2:
        return Interval(mean, math.nan, 1)
    critical = float(stats.t.ppf((1 + confidence) / 2, n - 1))
    return Interval(mean, critical * float(array.std(ddof=1)) / math.sqrt(n), n)


def paired_differences(runs: pd.DataFrame, variant: str, reference: str, metric: str = "final_val_acc") -> pd.Series:
    """``variant − reference`` per seed, over the seeds where both finished with a value."""
    done = runs[(runs["state"] == FINISHED) & runs[metric].notna()]
    mine = done[done["variant"] == variant].set_index("seed")[metric].astype(float)
    theirs = done[done["variant"] == reference].set_index("seed")[metric].astype(float)
    seeds = sorted(set(mine.index) & set(theirs.index))
    return pd.Series([mine[seed] - theirs[seed] for seed in seeds], index=pd.Index(seeds, name="seed"), dtype=float)


@dataclass(frozen=True)
class Comparison:
    """One variant against the study's reference on one metric."""

    variant: str
    reference: str
    metric: str
    value: Interval
    difference: Interval | None  # None for the reference itself
    chance: str | None  # the first chance-level warning among the variant's runs
    chance_runs: int

    @property
    def verdict(self) -> str:
        if self.chance:
            return AT_CHANCE
        if self.difference is None:
            return REFERENCE
        if self.difference.n < 2:
            return TOO_FEW
        if not self.difference.excludes_zero():
            return NO_DIFFERENCE
        return BETTER if self.difference.mean > 0 else WORSE

    def sentence(self) -> str:
        """e.g. ``translate: +3.1 ± 0.8 points over none, 3 seeds`` (numbers from the intervals)."""
        if self.difference is None:
            return f"{self.variant} (reference): {_percent(self.value)}, {_seeds(self.value.n)}"
        diff = self.difference
        if self.chance:
            return f"{self.variant}: at chance level in {self.chance_runs} run(s), so not compared ({self.chance})"
        if diff.n < 2:
            return f"{self.variant}: {TOO_FEW} ({_seeds(diff.n)} paired with {self.reference}; at least 2 are needed)"
        points = _points(diff)
        if self.verdict == BETTER:
            return f"{self.variant}: {points} points over {self.reference}, {_seeds(diff.n)}"
        if self.verdict == WORSE:
            below = Interval(-diff.mean, diff.half_width, diff.n)
            return f"{self.variant}: {_points(below).lstrip('+')} points below {self.reference}, {_seeds(diff.n)}"
        return f"{self.variant}: {NO_DIFFERENCE} from {self.reference} ({points} points, {_seeds(diff.n)})"


def compare_variants(
    runs: pd.DataFrame, reference: str, metric: str = "final_val_acc", variants: Sequence[str] | None = None
) -> list[Comparison]:
    """Every variant (in ``variants`` order, else the table's) against ``reference`` on ``metric``.

    ``runs`` is one row per run with at least ``variant``, ``seed``, ``state`` and ``metric``;
    a ``chance_warning`` column (text or empty) marks runs that stayed at chance level.
    """
    names = list(variants) if variants is not None else list(dict.fromkeys(runs["variant"]))
    comparisons = []
    for name in names:
        mine = runs[(runs["variant"] == name) & (runs["state"] == FINISHED)]
        warnings = [w for w in mine.get("chance_warning", pd.Series(dtype=object)) if isinstance(w, str) and w]
        difference = None if name == reference else t_interval(paired_differences(runs, name, reference, metric))
        comparisons.append(
            Comparison(name, reference, metric, t_interval(mine[metric]), difference, warnings[0] if warnings else None, len(warnings))
        )
    return comparisons


def conclusion(comparisons: Sequence[Comparison]) -> str:
    """One sentence for the whole study: the largest detectable gain over the reference, or none.

    Only variants whose paired interval lies above zero and that never sat at chance level are
    candidates; whether the best of them also beats the runner-up is not tested, so the sentence
    names the largest gain, not a winner over every other variant.
    """
    if not comparisons:
        return "No runs have finished yet."
    reference = comparisons[0].reference
    if any(c.difference is None and c.chance for c in comparisons):
        return f"The reference {reference} stayed at chance level, so no variant is compared with it: train longer or check the settings."
    tested = [c for c in comparisons if c.difference is not None and c.difference.n >= 2 and not c.chance]
    gains = sorted((c for c in tested if c.verdict == BETTER), key=lambda c: c.difference.mean, reverse=True)
    losses = [c for c in tested if c.verdict == WORSE]
    chance = [c.variant for c in comparisons if c.chance]
    if not tested:
        sentence = f"Not enough paired seeds yet to compare any variant with {reference}."
    elif gains:
        best = gains[0]
        sentence = (
            f"Largest detectable gain over {reference}: {best.variant}, {_points(best.difference)} points ({_seeds(best.difference.n)})"
        )
        others = [c.variant for c in gains[1:]]
        sentence += f"; also above {reference}: {', '.join(others)}." if others else "."
    else:
        sentence = f"No variant beat {reference} detectably at this size ({_seeds(max(c.difference.n for c in tested))})."
    if losses:
        sentence += f" Detectably worse than {reference}: {', '.join(c.variant for c in losses)}."
    if chance:
        sentence += f" At chance level (never named best): {', '.join(chance)}."
    return sentence


def comparison_table(comparisons: Sequence[Comparison], digits: int = 1) -> pd.DataFrame:
    """Text cells for the page and reports: mean ± CI and the paired difference, in points."""
    rows = []
    for c in comparisons:
        rows.append(
            {
                "variant": c.variant,
                "seeds": c.value.n,
                f"{_metric_name(c.metric)} (mean ± 95% CI)": _percent(c.value, digits),
                f"vs {c.reference} (paired, points)": "reference" if c.difference is None else _points(c.difference, digits),
                "verdict": c.verdict,
            }
        )
    return pd.DataFrame(rows)


def _points(interval: Interval, digits: int = 1) -> str:
    if math.isnan(interval.mean):
        return "-"
    mean = 100 * interval.mean
    if math.isnan(interval.half_width):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} ± {100 * interval.half_width:.{digits}f}"


def _percent(interval: Interval, digits: int = 1) -> str:
    if math.isnan(interval.mean):
        return "-"
    if math.isnan(interval.half_width):
        return f"{100 * interval.mean:.{digits}f}%"
    return f"{100 * interval.mean:.{digits}f} ± {100 * interval.half_width:.{digits}f}%"


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _metric_name(metric: str) -> str:
    return {"final_val_acc": "val acc", "acc_gap": "gap (train − val)", "final_train_acc": "train acc"}.get(metric, metric)
