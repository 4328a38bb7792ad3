"""Robustness page: heatmap cells equal the library's scores, one example per severity, a second run side by side."""

from __future__ import annotations

import shutil

from app_support import RUN_ID, charts, metrics, open_app, page_text

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
    assert len(at.get("imgs")[0].proto.imgs) == 6  # clean + 5 severities of Gaussian noise


def test_two_runs_side_by_side(trained_run, app_env):
    shutil.copytree(app_env / "runs" / RUN_ID, app_env / "runs" / "tiny-copy")
    at = open_app("robustness")
    at.selectbox(key="robustness_other").set_value("tiny-copy").run()
    heats = charts(at)
    assert len(heats) == 2 and heats[0]["data"][0]["z"] == heats[1]["data"][0]["z"]
