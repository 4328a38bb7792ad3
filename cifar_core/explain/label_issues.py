"""Suspect labels: images whose given label the model disputes, ranked by cleanlab.

cleanlab's ``find_label_issues`` (confident learning) needs *out-of-sample* probabilities: a model
scoring images it trained on has memorised their labels, right or wrong. So only a split the run
never trained on is accepted: its held-out ``val`` split, or the source's ``test`` split. What comes
out are suspects for a person to look at, not verdicts; CIFAR-10 has a few known mislabelled
images, and a weak model disputes many correct labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from cifar_core.errors import DataError
from cifar_core.evaluate import Evaluation

OUT_OF_SAMPLE_SPLITS = ("val", "test")


def label_issues(evaluation: Evaluation, split: str) -> list[dict[str, Any]]:
    """Suspects, most suspect first: ``row``, ``index``, ``given``, ``suggested`` (the model's class) and
    ``score`` (cleanlab's label quality in [0, 1]; lower is more suspect)."""
    if split not in OUT_OF_SAMPLE_SPLITS:
        raise DataError(f"Suspect labels need images the model did not train on; the {split} split was trained on, so use val or test.")
    labels = evaluation.labels.numpy()
    if len(labels) == 0:
        return []
    probs = evaluation.probs.double().numpy()
    probs = probs / probs.sum(axis=1, keepdims=True)  # exact sums after float32 softmax
    scores = get_label_quality_scores(labels, probs)
    # n_jobs=1: by default cleanlab forks a multiprocessing pool, which can hang a process that runs threads
    # (the Streamlit server, torch's) for minutes, and the Explain page runs in exactly such a process. One
    # process takes well under a second for 10,000 images.
    flagged = np.asarray(find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1), dtype=np.int64)
    suggested = probs.argmax(axis=1)
    return [
        {
            "row": int(row),
            "index": int(evaluation.indices[row]),
            "given": evaluation.classes[int(labels[row])],
            "suggested": evaluation.classes[int(suggested[row])],
            "score": float(scores[row]),
        }
        for row in flagged
    ]
