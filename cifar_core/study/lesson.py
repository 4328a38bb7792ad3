"""The lesson study's extra score and its one-paragraph answer.

A model trained only on upright images has never seen a cat upside down; one trained with
rotation has. Accuracy on the validation images turned by 90, 180 and 270 degrees shows that
difference far outside the seed noise, where clean validation accuracy on a few thousand images
often cannot. The takeaway is computed from the paired comparisons, so every page that quotes it
says the same thing and never more than the intervals allow.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from cifar_core.evaluate import LoadedModel, load_run_model, split_images
from cifar_core.runs import RunStore
from cifar_core.study.definition import Study
from cifar_core.study.stats import Comparison, compare_variants

ROTATED = "rot_val_acc"
QUARTER_TURNS = (1, 2, 3)
NO_DIFFERENCE = "no difference we can tell"
# metric column -> what it measures, in the order the takeaway reads them
LESSON_METRICS = (
    (ROTATED, "on validation images rotated by 90, 180 or 270 degrees"),
    ("final_val_acc", "on the validation images as they are"),
    ("acc_gap", "in the gap between training and validation accuracy"),
)


def rotated_accuracy(model: LoadedModel, images: torch.Tensor, labels: torch.Tensor, quarter_turns: Sequence[int] = QUARTER_TURNS) -> float:
    """Accuracy on uint8 images [N, 3, H, W] turned by ``k`` x 90 degrees, pooled over ``quarter_turns``.

    ``torch.rot90`` turns the whole batch exactly (no interpolation, no border), so the score
    measures what the model learned about orientation and nothing about resampling. One place,
    so the robustness module's transforms can replace it without touching the study's tables.
    """
    correct = 0
    for k in quarter_turns:
        predicted = model.probabilities(torch.rot90(images, k, dims=(2, 3))).argmax(dim=1).cpu()
        correct += int((predicted == labels).sum())
    return correct / (len(labels) * len(quarter_turns))


def rotated_scores(study: Study, runs: pd.DataFrame) -> dict[str, float]:
    """Each finished run's rotated validation accuracy (its last epoch's weights, as the table's final accuracy)."""
    from cifar_core.data import load_cifar

    store = RunStore(study.runs_root)
    data = load_cifar(study.base.data)
    scores = {}
    for run_id in runs.loc[runs["state"] == "finished", "run_id"]:
        model = load_run_model(store.get(run_id), which="last", device=study.base.device)
        images, labels, _ = split_images(model.config, data, "val")
        scores[run_id] = rotated_accuracy(model, images, labels)
    return scores


def takeaway(runs: pd.DataFrame, reference: str, variants: Sequence[str]) -> str:
    """The lesson's answer, one clause per metric, each variant against ``reference`` seed by seed.

    A difference is named (with its 95% interval) only where the paired interval excludes zero;
    otherwise the clause says "no difference we can tell". Metrics the table lacks are left out.
    """
    clauses = []
    for metric, where in LESSON_METRICS:
        if metric not in runs.columns:
            continue
        found = [_phrase(c) for c in compare_variants(runs, reference, metric=metric, variants=variants) if c.difference is not None]
        if found:
            clauses.append(f"{where}, {'; '.join(found)}")
    if not clauses:
        return "No lesson runs have finished yet."
    seeds = runs.loc[runs["state"] == "finished", "seed"].nunique()
    opening = f"Compared with {reference} over {seeds} seed{'' if seeds == 1 else 's'} (paired, 95% intervals): "
    return opening + ". ".join(_capital(c) for c in clauses) + "."


def _phrase(comparison: Comparison) -> str:
    diff = comparison.difference
    if comparison.chance:
        return f"{comparison.variant} stayed at chance level, so it is not compared"
    if diff is None or diff.n < 2:
        return f"{comparison.variant}: too few seeds to tell"
    points = f"{100 * diff.mean:+.1f} ± {100 * diff.half_width:.1f} points"
    if not diff.excludes_zero():
        return f"{comparison.variant}: {NO_DIFFERENCE} ({points})"
    return f"{comparison.variant} {points}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
