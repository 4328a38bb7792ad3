"""The comparing journey in a real browser, on two tiny synthetic runs:

Experiments → the lesson study → its result sentence; Runs → two runs → Compare → click a cell
of the difference heatmap → exactly its images; Robustness → one run's op × severity heatmap.

AppTest cannot send Plotly selection events nor show what the browser renders (markdown, tabs),
so this plays it in chromium against ``streamlit run``. Every number the pages show is checked
against the library computed here on the same images. Screenshots of each leg go to
``artifacts/journey/`` for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_support import (
    app_server,
    browser_page,
    click_cell,
    keep_failure_screenshot,
    open_page,
    require_chromium,
    screenshots_dir,
    set_number,
    settle,
    snap,
)
from support import tiny_config

from cifar_core.data import load_synthetic
from cifar_core.paired import compare_runs
from cifar_core.robustness import TRANSFORMS, load_scorable, score_run, scoring_images
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute
from cifar_core.study.published import LESSON, lesson_takeaway, list_published

pytestmark = pytest.mark.browser

SHOTS = screenshots_dir("journey")
SMALLEST = 10  # the Robustness page's smallest "How many" (its number box's min_value)
# Runs that learn the shapes (about 4 s each): 1-epoch tiny runs answer one class for every image,
# so every robustness cell read 20% and every compare cell moved a whole column, proving little.
LEARNS = {"epochs": 3, "lr": 3e-3, "limit": None, "aug_p": 0.0, "mix_p": 0.0}
EXAMPLE = "gaussian_noise"  # the transform the page's one-image-per-severity strip opens on
# The Robustness heatmap (the page's first chart): its rows and cells (accuracy in %) as plotly holds them, and its drawn title.
HEATMAP_JS = """() => {
    const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    const trace = gd.data[0];
    return {y: Array.from(trace.y), z: Array.from(trace.z, row => Array.from(row)), title: gd.querySelector('.gtitle').textContent};
}"""
# The shown image captions in reading order: a gallery is laid out in columns, so the DOM holds it column by
# column; captions in a tab not chosen have no box and are left out.
CAPTIONS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stImageCaption"]'))
    .filter(c => c.getClientRects().length).map(c => {
    const box = c.getBoundingClientRect();
    return [Math.round(box.top + window.scrollY), Math.round(box.left), c.innerText];
}).sort((p, q) => p[0] - q[0] || p[1] - q[1]).map(p => p[2])"""
# What the heatmap writes on its cells (plotly's texttemplate; the <br> between its two lines is gone in textContent).
CELL_TEXT_JS = """() => Array.from(
    document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot').querySelectorAll('g.heatmap-label text'), t => t.textContent)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("browser-compare")
    store = RunStore(tmp / "runs")
    runs = []
    for name, seed in (("run-a", 0), ("run-b", 1)):
        run = store.create(tiny_config(seed=seed, **LEARNS), name)
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
    yield from keep_failure_screenshot(request, page, "journey_failure")


def caption(item: dict) -> str:
    a, b = item["a"], item["b"]
    return f"{item['true']} · A {a['predicted']} {a['confidence']:.0%} · B {b['predicted']} {b['confidence']:.0%}"


def lesson_result(page) -> None:
    """Experiments opens its published studies on the lesson and states the computed answer, rendered as written."""
    published = list_published()
    assert published and published[0].name == LESSON
    sentence = lesson_takeaway()
    assert sentence.startswith("Compared with "), sentence  # the computed answer, not "not published yet"
    open_page(page, "Experiments")
    page.get_by_role("tab", name="Published studies").click()
    settle(page)
    assert page.get_by_role("combobox", name="Published study").input_value() == published[0].label
    success = page.locator('[data-testid="stAlertContentSuccess"]')
    success.wait_for()
    assert success.inner_text().strip() == sentence  # markdown left every character of it alone
    info = page.locator('[data-testid="stAlertContentInfo"]').filter(has_text="published lesson study").inner_text().strip()
    assert info == f"What augmentation does, in five minutes (the published lesson study): {sentence}"
    assert page.locator("body").inner_text().count(sentence) == 2  # the page's headline and the study's own verdict
    snap(page, "journey_1_lesson_result", SHOTS)


def compare_cell(page, runs) -> None:
    """Runs → Compare on the same images → click a difference cell other than the default → exactly its images."""
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
    shown = [text for text in page.evaluate(CAPTIONS_JS) if " · A " in text]
    wanted = [caption(item) for item in expected.describe(moved_in, 24)]
    assert shown[: len(wanted)] == wanted
    snap(page, "journey_2_compare_clicked_cell", SHOTS)


def robustness_of_one_run(page, runs) -> None:
    """Robustness for the picked run on its smallest image count: metrics and every heatmap cell equal the library's."""
    open_page(page, "Robustness")
    set_number(page, "How many", SMALLEST)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(timeout=90_000)
    settle(page)
    run = {run.id: run for run in runs}[page.get_by_role("combobox", name="Run", exact=True).input_value()]
    loaded = load_scorable(run)
    images, labels = scoring_images(loaded, load_synthetic(), "val")
    expected = score_run(loaded, images[:SMALLEST], labels[:SMALLEST])
    assert len({acc for row in expected.accuracy.values() for acc in row.values()}) > 2  # cells that differ: a misplaced one shows

    metrics = dict(
        zip(
            (text.strip() for text in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()),
            (text.strip() for text in page.locator('[data-testid="stMetricValue"]').all_inner_texts()),
        )
    )
    assert metrics == {"Clean accuracy": f"{expected.clean_accuracy:.1%}", "Mean corruption accuracy": f"{expected.mca:.1%}"}
    heat = page.evaluate(HEATMAP_JS)
    assert heat["title"] == f"{run.id}: accuracy on {SMALLEST} val images"
    assert heat["y"] == list(TRANSFORMS)
    written = []
    for row, (name, transform) in zip(heat["z"], TRANSFORMS.items()):
        want = [100 * expected.accuracy[name][s] for s in transform.severities]
        assert row == want + [None] * (len(row) - len(want)), name
        written += [f"{cell:.0f}%{transform.label(severity)}" for cell, severity in zip(want, transform.severities)]
    assert sorted(page.evaluate(CELL_TEXT_JS)) == sorted(written)

    strip = [text.strip() for text in page.evaluate(CAPTIONS_JS)]
    assert strip == ["clean"] + [TRANSFORMS[EXAMPLE].label(s) for s in TRANSFORMS[EXAMPLE].severities]
    snap(page, "journey_3_robustness", SHOTS)


def test_journey_lesson_result_then_compare_cell_then_robustness(server, page):
    url, runs = server
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    lesson_result(page)
    compare_cell(page, runs)
    robustness_of_one_run(page, runs)
