"""Compare in a real browser: Runs → two runs → Compare → click a cell of the difference heatmap → exactly its images.

AppTest cannot send Plotly selection events, so this plays the click in chromium against
``streamlit run`` on two tiny synthetic runs. Screenshots go beside the other browser tests'.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import app_server, browser_page, click_cell, keep_failure_screenshot, open_page, require_chromium, settle, snap
from support import tiny_config

from cifar_core.data import load_synthetic
from cifar_core.paired import compare_runs
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("browser-compare")
    store = RunStore(tmp / "runs")
    runs = []
    for name, seed in (("run-a", 0), ("run-b", 1)):
        run = store.create(tiny_config(seed=seed), name)
        assert execute(run).status == "finished"
        runs.append(run)
    env = {"CIFAR_EXPLORER_RUNS": str(tmp / "runs"), "CIFAR_EXPLORER_DATA": "synthetic", "CIFAR_EXPLORER_CACHE": str(tmp / "cache")}
    with app_server(tmp, env) as running:
        yield running.url, runs


@pytest.fixture(scope="module")
def page(server):
    with browser_page() as tab:
        yield tab


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    yield from keep_failure_screenshot(request, page, "compare_failure")


def caption(item: dict) -> str:
    a, b = item["a"], item["b"]
    return f"{item['true']} · A {a['predicted']} {a['confidence']:.0%} · B {b['predicted']} {b['confidence']:.0%}"


def test_runs_to_compare_and_a_clicked_difference_cell_shows_exactly_its_images(server, page):
    url, runs = server
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Runs")
    run_a = page.get_by_role("combobox", name="Run A").input_value()
    run_b = page.get_by_role("combobox", name="Run B").input_value()
    by_id = {run.id: run for run in runs}
    assert {run_a, run_b} == set(by_id)
    page.get_by_role("button", name="Compare on the same images").click()
    page.get_by_role("heading", name="Where the answers moved").wait_for(timeout=90_000)
    settle(page)

    expected = compare_runs(by_id[run_a], by_id[run_b], load_synthetic(), "test", device="cpu")
    difference = expected.confusion_difference
    default = divmod(int(difference.abs().flatten().argmax()), 10)
    cells = [(t, p) for t in range(10) for p in range(10) if len(expected.moved(t, p)[0]) and (t, p) != default]
    true_class, predicted_class = cells[0] if cells else default
    click_cell(page, true_class, predicted_class)
    moved_in, moved_out = expected.moved(true_class, predicted_class)
    classes = expected.classes
    heading = f"{classes[true_class]} called {classes[predicted_class]}: {int(difference[true_class, predicted_class]):+d} = "
    page.get_by_text(heading + f"{len(moved_in)} in − {len(moved_out)} out").wait_for(timeout=90_000)
    settle(page)
    shown = [text for text in page.locator('[data-testid="stImageCaption"]').all_inner_texts() if " · A " in text]
    wanted = [caption(item) for item in expected.describe(moved_in, 24)]
    assert shown[: len(wanted)] == wanted
    path = snap(page, "compare_1_clicked_cell")
    assert Path(path).stat().st_size > 0
