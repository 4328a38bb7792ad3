"""Hostile clicks in a real browser, each getting one sentence or working: a double click on Start, a reload during a run,
two tabs pressing Start at the same moment, a 50 MB file on every uploader.

The rule for Start (``app_pages/train.py`` ``_launch``): one press is one run. A double click
delivers the same press twice: the second arrives with the same form within ``DOUBLE_CLICK_S``
and is dropped (and the button is drawn anew under another key once the run exists). Two tabs
are two sessions, and each tab's press is its own request, so two tabs pressing at once make
two runs, one each; on a CPU the later ones wait as *queued*. A reload is a new session that
finds the run in the URL and starts nothing. The runs folder is counted after each, and both
tabs' runs stay this browser's own (``browser.add_own_run`` merges into the file as it is now).

An upload over the app's cap (``MAX_UPLOAD_BYTES``, 20 MB) gets one sentence naming that cap,
and the page goes on working: a small picture uploaded next is predicted.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from app_support import RUN_ID, trained_root  # noqa: F401  (fixture)
from browser_support import open_page, set_number, settle
from PIL import Image
from test_browser_e2e import page, screenshot_on_failure, server  # noqa: F401  (fixtures)

from cifar_core.app.uploads import MAX_UPLOAD_BYTES
from cifar_core.runs import RunStore
from cifar_core.runs.process import cancel
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.ui import browser

pytestmark = pytest.mark.browser
FIFTY_MB = 50 * 1024 * 1024
CAP_SENTENCE = re.compile(rf"\b{MAX_UPLOAD_BYTES // 2**20}(\.0)? ?MB\b")
START = "Start training"


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def fifty_mb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PNG's first bytes and 50 MB of zeros (a file, as Playwright takes no buffer over 50 MB)."""
    path = tmp_path_factory.mktemp("upload") / "huge.png"
    path.write_bytes(png() + bytes(FIFTY_MB))
    return path


def refuse_then_predict(page, key: str, huge: Path, shown_after: str) -> None:
    """50 MB into uploader ``key``: one sentence naming the cap; then a small picture: ``shown_after`` appears."""
    uploader = page.locator(f".st-key-{key} input[type=file]")
    uploader.set_input_files(huge)
    refusal = page.get_by_text(re.compile(r"MB or smaller|uploads are limited to"))
    refusal.first.wait_for()
    settle(page)
    said = refusal.all_inner_texts()
    assert len(said) == 1 and CAP_SENTENCE.search(said[0]), said
    uploader.set_input_files({"name": "photo.png", "mimeType": "image/png", "buffer": png()})
    page.get_by_text(shown_after).first.wait_for(timeout=120_000)
    settle(page)
    assert refusal.count() <= 1  # Streamlit keeps the refused file's line in its list until it is removed


def test_a_50_mb_upload_on_every_uploader_is_one_sentence_naming_the_cap(server, page, trained_root, fifty_mb_file):  # noqa: F811
    url, runs = server
    shutil.copytree(trained_root / RUN_ID, runs / RUN_ID)
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Evaluate")
    page.get_by_text("Try your own image").wait_for(timeout=120_000)
    refuse_then_predict(page, "evaluate_upload", fifty_mb_file, "What the model sees (from a 64×48 PNG)")
    open_page(page, "Explain")
    page.locator('[data-testid="stRadio"]').get_by_text("an uploaded picture").click()
    settle(page)
    refuse_then_predict(page, "explain_upload", fifty_mb_file, "photo.png (64×48 PNG)")
    assert [run.id for run in RunStore(runs).list()] == [RUN_ID]


def new_runs(runs: Path, before: set[str]) -> list:
    return [run for run in RunStore(runs).list() if run.id not in before]


def wait_for_runs(page, runs: Path, before: set[str], count: int) -> list:
    """The runs made since ``before`` once ``count`` exist, after 3 s more for a late extra one."""
    for _ in range(120):
        if len(new_runs(runs, before)) >= count:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(3000)
    return new_runs(runs, before)


def watched_run(tab, made: list) -> str:
    """The run id the tab's live view shows, once it shows one of ``made``."""
    heading = tab.locator("h3", has_text=re.compile("|".join(re.escape(run.id) for run in made)))
    heading.first.wait_for()
    return re.search(r"Run (\S+)", heading.first.inner_text()).group(1)


def cancel_all(runs: Path) -> None:
    for run in RunStore(runs).list():
        if run.state in ACTIVE_STATES:
            cancel(run)


def on_train(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name="Train", exact=True).first.wait_for(timeout=120_000)
    settle(page)


def test_typed_negative_and_huge_numbers_are_one_sentence_or_kept_in_bounds(server, page):  # noqa: F811
    """As typed in the browser: Epochs (no bounds of its own) gets one sentence and Start is disabled;
    the budget box (at least 0.05 min) keeps its value for -5 (Streamlit marks the box and says its minimum).
    Every box on every page: test_app_number_inputs."""
    url, runs = server
    before = {run.id for run in RunStore(runs).list()}
    on_train(page, url + "/train")
    start = page.get_by_role("button", name=START)
    for typed, sentence in (("-5", "epochs must be between 1 and 10000; got -5."), ("1000000000000", "got 1000000000000.")):
        set_number(page, "Epochs", typed)
        page.locator('[data-testid="stAlertContentError"]', has_text=sentence).wait_for()
        assert page.locator('[data-testid="stAlertContentError"]').count() == 1
        assert start.is_disabled()
    set_number(page, "Epochs", 30)
    assert start.is_enabled()
    set_number(page, "Budget (minutes)", -5)  # the box turns red with its minimum in a tooltip and applies nothing
    token = parse_qs(urlparse(page.url).query)["b"][0]
    assert browser.load_values(runs, token).get("train_budget", 1.25) == 1.25  # the recipe's budget still counts (none saved: unchanged)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0 and start.is_enabled()
    assert new_runs(runs, before) == []


def test_a_double_click_on_start_makes_one_run_and_a_reload_during_it_makes_none(server, page):  # noqa: F811
    url, runs = server
    before = {run.id for run in RunStore(runs).list()}
    try:
        on_train(page, url + "/train")
        set_number(page, "Number of images (class-balanced)", 600)  # the synthetic set's size; the recipe's 75-s budget
        page.get_by_role("button", name=START).dblclick()
        made = wait_for_runs(page, runs, before, 1)
        assert len(made) == 1, [run.id for run in made]
        run = made[0]
        assert watched_run(page, made) == run.id
        assert run.state in ACTIVE_STATES
        launched = run.raw_status()["launched"]

        page.reload()
        page.locator("h3", has_text=run.id).wait_for()
        settle(page)
        heading = page.locator("h3", has_text=run.id).inner_text()
        assert re.search(r"· (queued|running)\b", heading), heading  # still the same run, still training
        assert [other.id for other in new_runs(runs, before)] == [run.id]
        assert run.raw_status()["launched"] == launched  # its one worker, not launched again
    finally:
        cancel_all(runs)


def test_two_tabs_pressing_start_at_the_same_moment_make_one_run_each(server, page):  # noqa: F811
    url, runs = server
    before = {run.id for run in RunStore(runs).list()}
    on_train(page, url + "/train")
    second = page.context.new_page()
    try:
        second.set_default_timeout(90_000)
        on_train(second, page.url)  # the same browser (its ?b= key), a second tab
        for tab in (page, second):
            set_number(tab, "Number of images (class-balanced)", 600)
        buttons = [tab.get_by_role("button", name=START) for tab in (page, second)]
        for button in buttons:
            button.wait_for()
        for button in buttons:  # no wait between the presses
            button.click(no_wait_after=True)
        made = wait_for_runs(page, runs, before, 2)
        assert len(made) == 2, [run.id for run in made]
        assert {watched_run(tab, made) for tab in (page, second)} == {run.id for run in made}  # each tab watches its own
        token = parse_qs(urlparse(page.url).query)["b"][0]
        assert {run.id for run in made} <= set(browser.load_values(runs, token)[browser.OWN_RUNS])  # both stay this browser's
    finally:
        second.close()
        cancel_all(runs)
