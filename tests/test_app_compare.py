"""Compare page: two tiny runs on the same images, numbers that match the library, cell galleries, flips, calibration."""

from __future__ import annotations

import shutil

import pytest
from app_support import RUN_ID, assert_ok, button, charts, metrics, open_app, page_text
from support import tiny_config

from cifar_core.data import load_synthetic
from cifar_core.paired import compare_runs
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute

OTHER_ID = "tiny-run-b"


@pytest.fixture(scope="module")
def other_root(tmp_path_factory):
    """A second finished tiny run, with another seed, so the two models disagree on some images."""
    root = tmp_path_factory.mktemp("other-run")
    run = RunStore(root).create(tiny_config(seed=1), OTHER_ID)
    assert execute(run).status == "finished"
    return root


@pytest.fixture
def two_runs(trained_run, other_root, app_env):
    shutil.copytree(other_root / OTHER_ID, app_env / "runs" / OTHER_ID)
    store = RunStore(app_env / "runs")
    return store.get(RUN_ID), store.get(OTHER_ID)


def gallery(at) -> list[str]:
    return [element.captions[0] for element in at.image if " · A " in element.captions[0]]


def caption(item: dict) -> str:
    a, b = item["a"], item["b"]
    return f"{item['true']} · A {a['predicted']} {a['confidence']:.0%} · B {b['predicted']} {b['confidence']:.0%}"


def test_one_run_is_not_enough(trained_run):
    at = open_app("compare")
    assert "Compare needs two trained runs" in page_text(at)


def test_numbers_heatmap_and_galleries_match_the_library(two_runs):
    at = open_app("compare", session={"compare_run_a": RUN_ID, "compare_run_b": OTHER_ID})
    expected = compare_runs(*two_runs, load_synthetic(), "test", device="cpu")
    report = expected.to_json(RUN_ID, OTHER_ID)
    shown = metrics(at)
    assert shown[f"A · {RUN_ID}"] == f"{report['accuracy_a']:.1%}" and shown[f"B · {OTHER_ID}"] == f"{report['accuracy_b']:.1%}"
    assert shown["B − A"] == f"{100 * report['difference']:+.1f} points"
    low, high = (100 * bound for bound in report["interval"])
    assert [element.delta for element in at.metric if element.label == "B − A"] == [f"95% interval {low:+.1f} to {high:+.1f}"]
    assert report["summary"] in page_text(at)
    heat = charts(at)[0]["data"][0]
    assert heat["colorscale"][0][1] != heat["colorscale"][-1][1] and heat["zmid"] == 0  # diverging, centred at 0
    assert [[int(cell or 0) for cell in row] for row in heat["text"]] == expected.confusion_difference.tolist()
    # pick a cell with the dropdowns: the two galleries hold exactly its moved-in and moved-out images
    difference = expected.confusion_difference
    true_class, predicted_class = divmod(int(difference.abs().flatten().argmax()), 10)
    at.selectbox(key="compare_true").set_value(true_class).run()
    at.selectbox(key="compare_pred").set_value(predicted_class).run()
    assert_ok(at)
    moved_in, moved_out = expected.moved(true_class, predicted_class)
    captions = gallery(at)
    cell = [item for rows in (moved_in, moved_out) for item in expected.describe(rows, 24)]
    flips = expected.flips(24)
    flip_items = flips["right_to_wrong"] + flips["wrong_to_right"]
    assert captions[: len(cell)] == [caption(item) for item in cell]
    assert len(captions) == len(cell) + len(flip_items)
    assert f"{int(difference[true_class, predicted_class]):+d} = {len(moved_in)} in − {len(moved_out)} out" in page_text(at)
    titles = [chart["layout"]["title"]["text"] for chart in charts(at)[2:4]]
    assert titles == [
        f"A · {RUN_ID}: ECE {report['calibration']['a']['ece']:.3f}",
        f"B · {OTHER_ID}: ECE {report['calibration']['b']['ece']:.3f}",
    ]
    assert "15 equal-width confidence bins" in page_text(at) and "Robustness" in page_text(at)


def test_compare_opens_on_held_out_images_and_warns_on_training_images(two_runs, app_env):
    at = open_app("compare", session={"compare_run_a": RUN_ID, "compare_run_b": OTHER_ID})
    assert at.selectbox(key="compare_images").value == ("synthetic", "test")  # other seeds: no shared validation images
    flattered = (
        "Both runs trained on some of these images, and a score on images a run trained on flatters it: "
        "the held-out validation images or a test set compare them fairly."
    )
    assert flattered not in [element.value for element in at.warning]
    at.selectbox(key="compare_images").set_value(("synthetic", "train")).run()
    assert flattered in [element.value for element in at.warning]
    twin = "tiny-run-twin"  # the same settings and seed as RUN_ID: the same validation images held out
    shutil.copytree(app_env / "runs" / RUN_ID, app_env / "runs" / twin)
    at = open_app("compare", session={"compare_run_a": RUN_ID, "compare_run_b": twin})
    assert at.selectbox(key="compare_images").value == ("__val__", "val")


def test_the_same_run_twice_is_one_sentence(two_runs):
    at = open_app("compare", session={"compare_run_a": RUN_ID, "compare_run_b": RUN_ID})
    assert [element.value for element in at.error] == [f"Both runs are {RUN_ID}; pick two different runs to compare."]
    assert not at.metric


def test_runs_page_hands_its_two_runs_to_compare(two_runs):
    at = open_app("runs")
    at.selectbox(key="runs_diff_a").set_value(OTHER_ID)
    at.selectbox(key="runs_diff_b").set_value(RUN_ID).run()
    button(at, "Compare on the same images").click().run()
    assert_ok(at)
    assert at.selectbox(key="compare_run_a").value == OTHER_ID and at.selectbox(key="compare_run_b").value == RUN_ID


def test_compare_hands_its_two_runs_to_the_robustness_page(two_runs):
    at = open_app("compare", session={"compare_run_a": OTHER_ID, "compare_run_b": RUN_ID})
    assert_ok(at)
    button(at, "Score both on the Robustness page").click().run()
    assert_ok(at)
    assert at.selectbox(key="robustness_run").value == OTHER_ID and at.selectbox(key="robustness_other").value == RUN_ID
    assert [chart["layout"]["title"]["text"].split(":")[0] for chart in charts(at)[:2]] == [OTHER_ID, RUN_ID]
