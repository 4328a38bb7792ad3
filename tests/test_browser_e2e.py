"""End to end in a real browser: the app server, Debian's chromium driven by Playwright.

Opens every page, launches a 1-epoch run on the Train page, watches its curve appear, then reads
its confusion matrix on the Evaluate page. Screenshots of each page go to ``artifacts/screenshots``
(or ``$CIFAR_EXPLORER_SCREENSHOTS``) for a person to look at.

The ``server`` (synthetic data, a private runs folder) and ``page`` fixtures defined here are
reused by the other browser tests on the synthetic set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (  # noqa: F401  (re-exported: other browser test files import these from here)
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SERVER_START_S,
    VIEWPORT,
    app_server,
    browser_page,
    free_port,
    keep_failure_screenshot,
    open_page,
    screenshots_dir,
    set_checkbox,
    set_number,
    settle,
    snap,
)

from cifar_core.runs import RunStore

pytestmark = pytest.mark.browser

TRAINING_S = 240


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``streamlit run`` on the synthetic set with private runs/cache folders: ``(url, runs folder)``."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        "CIFAR_EXPLORER_RUNS": str(tmp / "runs"),
        "CIFAR_EXPLORER_DATA": "synthetic",
        "CIFAR_EXPLORER_CACHE": str(tmp / "cache"),
        "CIFAR_EXPLORER_DATA_ROOTS": str(tmp),
    }
    with app_server(tmp, env) as running:
        yield running.url, running.runs


@pytest.fixture(scope="module")
def page(server):
    with browser_page(60_000) as tab:
        yield tab


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    """Keep what the browser showed when a step failed (``failure.png`` beside the other screenshots)."""
    yield from keep_failure_screenshot(request, page, "failure")


def test_train_a_run_watch_its_curve_and_read_its_confusion_matrix(server, page):
    url, runs = server

    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    page.get_by_text("SYNTHETIC demo set — this is not CIFAR-10").wait_for()
    snap(page, "dataset")

    open_page(page, "Augmentation lab")
    page.get_by_text("selected on Train").wait_for()  # the lab opens on the Train recipe's augmentation (no CutMix)
    assert page.get_by_text("CutMix up close").count() == 0
    snap(page, "augmentation_lab")

    open_page(page, "Train")
    set_number(page, "Epochs", 1)
    set_number(page, "Batch size", 64)
    set_checkbox(page, "Train on part of the images only", True)  # the classroom recipe ticks it already
    set_number(page, "Number of images (class-balanced)", 600)
    # the classroom recipe fills its 75 s budget with as many epochs as fit: one epoch is asked for here
    set_checkbox(page, "Fit training into a time budget", False)
    page.get_by_role("button", name="Start training").click()
    page.locator("h3", has_text=re.compile(r"^Run ")).first.wait_for()
    assert len(RunStore(runs).list()) == 1
    run = RunStore(runs).list()[0]
    assert (run.config().epochs, run.config().batch_size, run.config().limit, run.config().budget_minutes) == (1, 64, 600, None)
    page.locator("h3", has_text="finished").wait_for(timeout=TRAINING_S * 1000)
    page.locator(".js-plotly-plot .scatterlayer .trace").nth(1).wait_for()  # train and validation curves drawn
    assert "run=" + run.id in page.url
    snap(page, "train")

    page.reload()  # a refresh keeps the run (it is in the URL) and starts no other
    page.locator("h3", has_text=run.id).wait_for()
    assert len(RunStore(runs).list()) == 1

    open_page(page, "Runs")
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    snap(page, "runs")

    open_page(page, "Evaluate")
    page.get_by_role("heading", name="Confusion matrix").wait_for()
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for()
    page.locator(".js-plotly-plot .xtick text", has_text="airplane").first.wait_for()  # class names on the axes
    snap(page, "evaluate")
