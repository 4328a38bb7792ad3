"""Robustness page: heatmap cells equal the library's scores, one example per severity."""

from __future__ import annotations

from app_support import charts, metrics, open_app, page_text

from cifar_core.data import load_cifar
from cifar_core.evaluate import load_run_model
from cifar_core.robustness import TRANSFORMS, score_run, scoring_images


def test_no_run_is_explained(app_env):
    assert "No run with a checkpoint" in page_text(open_app("robustness"))


def test_heatmap_and_metrics_match_the_library(trained_run):
    at = open_app("robustness")
    loaded = load_run_model(trained_run, "best")
    images, labels = scoring_images(loaded, load_cifar("synthetic"), "val")
    expected = score_run(loaded, images[:1000], labels[:1000])
    assert metrics(at) == {"Clean accuracy": f"{expected.clean_accuracy:.1%}", "Mean corruption accuracy": f"{expected.mca:.1%}"}
    heat = charts(at)[0]["data"][0]
    assert heat["y"] == list(TRANSFORMS)
    assert heat["z"][list(TRANSFORMS).index("rotate")][:3] == [100 * expected.accuracy["rotate"][s] for s in (1, 2, 3)]
    # each cell names its strength in words, not a bare number
    assert heat["text"][list(TRANSFORMS).index("jpeg")][0] == f"{100 * expected.accuracy['jpeg'][1]:.0f}%<br>JPEG quality 80"
    assert heat["text"][list(TRANSFORMS).index("pixelate")][0].endswith("<br>pixelate to 95% of side")
    captions = [caption for element in at.image for caption in element.captions]
    assert captions == ["clean"] + [TRANSFORMS["gaussian_noise"].label(s) for s in range(1, 6)]
