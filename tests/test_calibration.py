"""Expected calibration error and the reliability bins: a hand count, a perfectly calibrated set, torchmetrics."""

from __future__ import annotations

import json

import pytest
import torch
from app_support import charts, open_app, page_text

from cifar_core.calibration import BINS, reliability
from cifar_core.cli import main
from cifar_core.data import load_synthetic
from cifar_core.evaluate import evaluate, load_run_model, split_images


def two_class(confidences: list[float], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities [N, 2] whose top class is 0 with the given confidence (each > 0.5)."""
    top = torch.tensor(confidences)
    return torch.stack([top, 1 - top], dim=1), torch.tensor(labels)


def test_ece_of_a_hand_computed_example():
    # confidences .9 (right) and .88 (wrong) share bin 13 [13/15, 14/15): mean .89, accuracy .5
    # .95 wrong in bin 14; .62 right in bin 9; .7 wrong in bin 10
    probs, labels = two_class([0.9, 0.88, 0.95, 0.62, 0.7], [0, 1, 1, 0, 1])
    by_hand = (2 * abs(0.5 - 0.89) + abs(0 - 0.95) + abs(1 - 0.62) + abs(0 - 0.7)) / 5
    assert reliability(probs, labels).ece == pytest.approx(by_hand, abs=1e-6)
    bins = reliability(probs, labels)
    assert len(bins.counts) == BINS == 15 and len(bins.edges) == 16 and sum(bins.counts) == 5
    assert [k for k, count in enumerate(bins.counts) if count] == [9, 10, 13, 14]
    assert bins.counts[13] == 2 and bins.accuracy[13] == 0.5 and bins.confidence[13] == pytest.approx(0.89)
    assert bins.accuracy[0] is None and bins.confidence[0] is None  # empty bins say so, never 0


def test_a_perfectly_calibrated_set_has_zero_ece():
    # ten images at 80% confidence with 8 right, five at 60% with 3 right
    probs, labels = two_class([0.8] * 10 + [0.6] * 5, [0] * 8 + [1] * 2 + [0] * 3 + [1] * 2)
    assert reliability(probs, labels).ece == pytest.approx(0.0, abs=1e-6)


def test_full_confidence_lands_in_the_last_bin_and_an_overconfident_model_scores_its_gap():
    probs, labels = two_class([1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1])
    bins = reliability(probs, labels)
    assert bins.counts[-1] == 4 and bins.ece == pytest.approx(0.5)


def test_ece_matches_torchmetrics_when_it_is_installed():
    metrics = pytest.importorskip("torchmetrics.classification")
    generator = torch.Generator().manual_seed(0)
    probs = torch.randn(500, 10, generator=generator).mul(2).softmax(dim=1)
    labels = torch.randint(0, 10, (500,), generator=generator)
    reference = metrics.MulticlassCalibrationError(num_classes=10, n_bins=15, norm="l1")(probs, labels)
    assert reliability(probs, labels).ece == pytest.approx(float(reference), abs=1e-5)


def test_evaluate_json_carries_the_ece_and_its_bins(trained_run, capsys):
    assert main(["evaluate", "--run", str(trained_run.dir), "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = validation_bins(trained_run)
    assert report["ece"] == pytest.approx(expected.ece, abs=1e-6)
    assert report["reliability"]["binning"] == "15 equal-width confidence bins" and sum(report["reliability"]["counts"]) == report["n"]


def test_the_evaluate_page_shows_the_ece_and_the_reliability_diagram(trained_run):
    at = open_app("evaluate")
    bins = validation_bins(trained_run)
    assert f"Expected calibration error: {bins.ece:.3f}" in page_text(at) and "15 equal-width confidence bins" in page_text(at)
    diagram = next(chart for chart in charts(at) if chart["layout"].get("title", {}).get("text", "").startswith("ECE"))
    assert diagram["data"][0]["y"] == pytest.approx([value for value in bins.accuracy if value is not None])


def validation_bins(run):
    """The run's validation reliability bins, computed straight from the library."""
    loaded = load_run_model(run, device="cpu")
    result = evaluate(loaded, *split_images(loaded.config, load_synthetic(), "val"))
    return reliability(result.probs, result.labels)
