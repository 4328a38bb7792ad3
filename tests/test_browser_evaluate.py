"""Evaluate in a real browser: score a separate labelled test set, then click confusion cells.

AppTest cannot send Plotly selection events, so this plays them in Debian's chromium against
``streamlit run``: a run trained on the shared real images is scored on a separate test source
built from a slice of them laid out as ``test/<class>/*.jpg``; clicking a confusion cell must show
exactly that cell's images. Screenshots go beside the other browser test's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    app_server,
    browser_page,
    click_cell,
    gallery_captions,
    keep_failure_screenshot,
    open_page,
    require_chromium,
    settle,
    slice_as_test_folder,
    snap,
)

from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, source_split_images
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute
from cifar_core.train.presets import get_preset

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

PER_CLASS = 100
RUN_ID = "real-run"


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory, shared_tarball: Path) -> Iterator[tuple[str, Path, Path]]:
    """A run trained on 5,000 real images, a separate real test folder, and ``streamlit run`` serving both."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("browser-evaluate")
    runs, data = tmp / "runs", tmp / "data"
    test_folder = slice_as_test_folder(shared_tarball, data / "held-out", PER_CLASS)
    # the classroom recipe (small SGD) on 5,000 images learns enough in two epochs (about 30% here) to spread its mistakes
    config = get_preset("classroom").config(data=str(shared_tarball), epochs=2, limit=5000, device="cpu", seed=0, budget_minutes=None)
    run = RunStore(runs).create(config, RUN_ID)
    assert execute(run) is not None and run.state == "finished", run.log_path.read_text()
    env = {"CIFAR_EXPLORER_RUNS": str(runs), "CIFAR_EXPLORER_DATA": str(shared_tarball), "CIFAR_EXPLORER_DATA_ROOTS": str(data)}
    with app_server(tmp, env) as running:
        yield running.url, run.dir, test_folder


@pytest.fixture(scope="module")
def page(lesson):
    with browser_page() as tab:
        yield tab


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    """Keep what the browser showed when a step failed (``evaluate_failure.png``)."""
    yield from keep_failure_screenshot(request, page, "evaluate_failure")


def test_a_separate_real_test_set_is_scored_and_a_clicked_cell_shows_exactly_its_images(lesson, page):
    url, run_dir, test_folder = lesson
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    page.get_by_label("Folder or archive path").fill(str(test_folder))
    page.get_by_role("button", name="Load this path").click()
    page.get_by_text("This source holds only test images").wait_for()
    snap(page, "evaluate_1_dataset_test_only")

    open_page(page, "Evaluate")
    page.locator('[data-testid="stMetricValue"]').first.wait_for()
    settle(page)
    choice = page.get_by_role("combobox", name="Images to score")
    assert choice.input_value().startswith("This run's validation images")  # the run's own images by default
    choice.click()
    page.get_by_role("option", name=f"The {10 * PER_CLASS:,} test images of “held-out”").click()
    settle(page)
    page.locator('[data-testid="stMetricValue"]', has_text=f"{10 * PER_CLASS:,}").wait_for()
    assert "no labelled test split" not in page.content()

    loaded = load_run_model(RunStore(run_dir.parent).get(RUN_ID), "best")
    expected = evaluate(loaded, *source_split_images(load_cifar(test_folder), "test"))
    accuracy = page.locator('[data-testid="stMetric"]', has_text="Accuracy").locator('[data-testid="stMetricValue"]').inner_text()
    assert accuracy == f"{expected.accuracy:.1%}"
    snap(page, "evaluate_2_separate_test_set")

    pairs = most_confused_pairs(expected.confusion, expected.classes)
    assert len(pairs) >= 2
    # the dropdowns open on the most confused pair; click the second one, which only a click can show
    pair = pairs[1]
    true_class, predicted_class = expected.classes.index(pair["true"]), expected.classes.index(pair["predicted"])
    click_cell(page, true_class, predicted_class)
    expect = pytest.importorskip("playwright.sync_api").expect
    for name, value in (("True class", pair["true"]), ("Predicted as", pair["predicted"])):  # the dropdowns follow the click
        expect(page.get_by_role("combobox", name=name)).to_have_value(value, timeout=90_000)
    page.get_by_text(f"{pair['true']} images the model called {pair['predicted']}").wait_for()
    settle(page)
    count = int(expected.confusion[true_class, predicted_class])
    assert f"{count} {pair['true']} images the model called {pair['predicted']}" in page.locator("body").inner_text()
    captions = gallery_captions(page)
    assert len(captions) == min(count, 24) and all(caption.startswith(pair["predicted"] + " ") for caption in captions)
    snap(page, "evaluate_3_clicked_cell")

    click_cell(page, true_class, true_class)  # a diagonal cell: the images it got right
    right = int(expected.confusion[true_class, true_class])
    page.get_by_text(f"{pair['true']} images the model got right").wait_for()
    settle(page)
    captions = gallery_captions(page)
    assert len(captions) == min(right, 24) and all(caption.startswith(pair["true"] + " ") for caption in captions)
    snap(page, "evaluate_4_clicked_diagonal")
