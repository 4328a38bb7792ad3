"""Calibration: does a model that says "90% sure" get 90% of such images right?

Expected calibration error (ECE) with 15 equal-width confidence bins, the binning of Guo et al.
(2017) and of torchmetrics' ``MulticlassCalibrationError``: bin ``k`` holds the images whose top
probability lies in ``[k/15, (k+1)/15)`` (a confidence of exactly 1 in the last bin), and ECE is the
image-weighted mean of ``|accuracy - mean confidence|`` over the bins. The same bins draw the
reliability diagram, so the number and the picture never disagree. Written here (it is a few
lines) so that evaluation needs no extra dependency; the tests check it against torchmetrics
where that is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

BINS = 15
BINNING = f"{BINS} equal-width confidence bins"


@dataclass(frozen=True)
class Reliability:
    """Per-bin counts, mean confidence and accuracy of one model on one scored set."""

    edges: list[float]  # BINS + 1 bin edges from 0 to 1
    counts: list[int]
    confidence: list[float | None]  # mean top probability per bin, None for an empty bin
    accuracy: list[float | None]  # share right per bin, None for an empty bin
    ece: float

    def to_json(self) -> dict[str, Any]:
        return {
            "bins": len(self.counts),
            "binning": f"{len(self.counts)} equal-width confidence bins",
            "edges": self.edges,
            "counts": self.counts,
            "confidence": self.confidence,
            "accuracy": self.accuracy,
        }


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> Reliability:
    """Bin the top-class confidences of ``probs`` [N, C] against ``labels`` [N] (batched, no per-image loop)."""
    if len(labels) == 0:
        raise ValueError("calibration needs at least one scored image")
    confidence, predicted = probs.float().max(dim=1)
    right = (predicted == labels.to(predicted.device)).float()
    edges = torch.linspace(0, 1, bins + 1, dtype=confidence.dtype, device=confidence.device)
    which = (torch.bucketize(confidence, edges, right=True) - 1).clamp(0, bins - 1)
    counts = torch.bincount(which, minlength=bins)
    confidence_sum = torch.zeros(bins, dtype=torch.float64, device=which.device).index_add_(0, which, confidence.double())
    right_sum = torch.zeros(bins, dtype=torch.float64, device=which.device).index_add_(0, which, right.double())
    filled = counts > 0
    mean_confidence = confidence_sum / counts.clamp_min(1)
    accuracy = right_sum / counts.clamp_min(1)
    ece = float(((accuracy - mean_confidence).abs() * counts).sum() / len(labels))
    return Reliability(
        edges=[round(float(edge), 12) for edge in edges],
        counts=[int(count) for count in counts],
        confidence=[float(value) if keep else None for value, keep in zip(mean_confidence, filled)],
        accuracy=[float(value) if keep else None for value, keep in zip(accuracy, filled)],
        ece=ece,
    )
