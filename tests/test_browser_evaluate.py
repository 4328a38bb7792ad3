"""Evaluate in a real browser: score a separate labelled test set, then click confusion cells.

AppTest cannot send Plotly selection events, so this plays them in Debian's chromium against
``streamlit run``: a run trained on the shared real images is scored on a separate test source
built from a slice of them laid out as ``test/<class>/*.jpg``; clicking a confusion cell must show
exactly that cell's images. Screenshots go beside the other browser test's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, ROOT, SERVER_START_S, VIEWPORT, free_port, open_page, screenshots_dir, settle, snap

from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, source_split_images
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute
from cifar_core.train.presets import get_preset

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

PER_CLASS = 100
RUN_ID = "real-run"


def slice_as_test_folder(tarball: Path, target: Path, per_class: int) -> Path:
    """The last ``per_class`` images of each class of the shared tarball, as ``target/test/<class>/*.jpg``."""
    with tarfile.open(tarball) as archive:
        members = [member for member in archive.getmembers() if member.isfile() and member.name.endswith(".jpg")]
        by_class: dict[str, list[tarfile.TarInfo]] = {}
        for member in members:
            by_class.setdefault(member.name.split("/")[1], []).append(member)
        for name, chosen in by_class.items():
            folder = target / "test" / name
            folder.mkdir(parents=True)
            for member in sorted(chosen, key=lambda m: m.name)[-per_class:]:
                (folder / Path(member.name).name).write_bytes(archive.extractfile(member).read())
    return target


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory, shared_tarball: Path) -> Iterator[tuple[str, Path, Path]]:
    """A run trained on 2,000 real images, a separate real test folder, and ``streamlit run`` serving both."""
    if not CHROMIUM.exists():
        pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("browser-evaluate")
    runs, data = tmp / "runs", tmp / "data"
    test_folder = slice_as_test_folder(shared_tarball, data / "held-out", PER_CLASS)
    # the fast recipe on 5,000 images learns enough in two epochs (about 30% here) to spread its mistakes
    config = get_preset("fast").config(data=str(shared_tarball), epochs=2, limit=5000, device="cpu", seed=0, budget_minutes=None)
    run = RunStore(runs).create(config, RUN_ID)
    assert execute(run) is not None and run.state == "finished", run.log_path.read_text()
    env = {
        **os.environ,
        "CIFAR_EXPLORER_RUNS": str(runs),
        "CIFAR_EXPLORER_DATA": str(shared_tarball),
        "CIFAR_EXPLORER_DATA_ROOTS": str(data),
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = open(tmp / "server.log", "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, run.dir, test_folder
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lesson):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_context(viewport=VIEWPORT).new_page()
        tab.set_default_timeout(90_000)
        try:
            yield tab
        finally:
            browser.close()


CELL_CENTRE_JS = """([plot, column, row]) => {
    const gd = document.querySelectorAll('.js-plotly-plot')[plot];
    const layout = gd._fullLayout, box = gd.getBoundingClientRect();
    return {x: box.left + layout._size.l + layout.xaxis.l2p(column), y: box.top + layout._size.t + layout.yaxis.l2p(row)};
}"""


def click_cell(page, true_class: int, predicted_class: int) -> None:
    """Click the centre of one confusion cell, where a user would (the heatmap is the page's first chart)."""
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    centre = page.evaluate(CELL_CENTRE_JS, [0, predicted_class, true_class])
    page.mouse.click(centre["x"], centre["y"])
    settle(page)


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    """Keep what the browser showed when a step failed (``evaluate_failure.png``)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        page.screenshot(path=screenshots_dir() / "evaluate_failure.png")


def gallery_captions(page) -> list[str]:
    return page.locator('[data-testid="stImageCaption"]').filter(has_text="%").all_inner_texts()


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
