"""Every mistake of a model on a split, most confident first: the list the gallery pages through.

Built on ``Evaluation`` (the same probabilities the Evaluate page and ``evaluate`` report), so the
number of mistakes here always equals ``n - correct`` there.
"""

from __future__ import annotations

from typing import Any

from cifar_core.evaluate import Evaluation

PAGE_SIZE = 24


def mistakes(evaluation: Evaluation, true_class: int | None = None, predicted_class: int | None = None) -> list[dict[str, Any]]:
    """Every misclassified image (optionally of one true and/or predicted class), most confident first.

    Each item: ``row`` (position in the split), ``index`` (position in the source), ``true``,
    ``predicted``, ``confidence`` (the probability of the wrong answer) and ``top3``.
    """
    rows = evaluation.misclassified(true_class, predicted_class, limit=evaluation.n)
    return [{**row, "confidence": row["top3"][0][1]} for row in rows]


def mistakes_report(evaluation: Evaluation) -> dict[str, Any]:
    """The ``mistakes --json`` object: n, accuracy and every mistake (without the split-local row)."""
    wanted = ("index", "true", "predicted", "confidence", "top3")
    return {
        "n": evaluation.n,
        "accuracy": evaluation.accuracy,
        "mistakes": [{key: item[key] for key in wanted} for item in mistakes(evaluation)],
    }


def page(items: list[Any], number: int, size: int = PAGE_SIZE) -> list[Any]:
    """Page ``number`` (from 0) of ``items``; past the end it is empty."""
    return items[number * size : (number + 1) * size]


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))
