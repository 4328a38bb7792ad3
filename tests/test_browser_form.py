"""In a real browser: the Train form survives Experiments, Runs and a reload; the CutMix close-up names its images.

Some faults show only in a real browser (widgets mounting at their blank defaults, a selectbox
keeping the old sample's label), so they are checked here too.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import number_value, open_page, set_checkbox, set_number, settle, snap
from test_browser_e2e import page, screenshot_on_failure, server  # noqa: F401  (fixtures)

from cifar_core.ui import browser

pytestmark = pytest.mark.browser
FIELDS = ("Epochs", "Seed", "Number of images (class-balanced)", "Learning rate", "Batch size")


def values(page) -> dict[str, str]:  # noqa: F811
    return {label: number_value(page, label) for label in FIELDS}


def test_the_train_form_survives_other_pages_and_a_reload(server, page):  # noqa: F811
    url, _ = server
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Train")
    set_number(page, "Epochs", 3)
    set_number(page, "Seed", 7)
    set_number(page, "Number of images (class-balanced)", 5000)
    before = values(page)
    assert before["Epochs"] == "3" and before["Number of images (class-balanced)"] == "5000"

    open_page(page, "Experiments")
    base = page.get_by_text(re.compile("^Base run")).first.inner_text()
    assert "3 epoch(s), 5000 images" in base and "seed 7" in base
    open_page(page, "Runs")
    open_page(page, "Train")
    page.wait_for_timeout(1500)
    assert values(page) == before
    snap(page, "train_form_after_pages")


def test_a_reload_restores_the_last_train_form(server, page):  # noqa: F811
    """A reload is a new session: the form comes back from this browser's state file, every field as it was.

    A box without a default of its own can come back 0 after a reload: Streamlit paints a number
    box's default before it applies the session's value, so on a loaded machine a read right after
    the run sees 0. ``state.persist_number`` gives each box the value it holds as its default.
    """
    url, runs = server
    page.goto(url)
    open_page(page, "Train")
    set_number(page, "Epochs", 4)
    set_number(page, "Seed", 11)
    before = values(page)
    assert (before["Epochs"], before["Seed"]) == ("4", "11")
    page.reload()
    page.get_by_role("heading", name="Train", exact=True).first.wait_for()
    settle(page)
    page.wait_for_timeout(1500)
    token = parse_qs(urlparse(page.url).query)["b"][0]
    saved = json.loads(browser.state_path(runs, token).read_text())
    assert values(page) == before, f"saved state: {saved}"
    assert (saved["train_epochs"], saved["train_seed"]) == (4, 11)


def test_the_cutmix_close_up_names_the_images_it_shows(server, page):  # noqa: F811
    url, _ = server
    page.goto(url)
    open_page(page, "Augmentation lab")
    page.get_by_text("selected on Train").wait_for()  # the lab opens on the Train recipe, which has no CutMix
    assert page.get_by_text("CutMix up close").count() == 0  # so no close-up of a mix that does not happen
    page.locator('[data-testid="stExpander"] summary', has_text="CutMix").click()
    set_checkbox(page, "Use CutMix", True)
    settle(page)
    page.get_by_text("CutMix up close").wait_for()
    for _ in range(3):
        page.get_by_role("button", name=re.compile("Resample")).click()
        settle(page)
        chosen = page.locator('[data-testid="stSelectbox"]').filter(has_text="Image A").locator("input").first.input_value()
        caption = page.get_by_text(re.compile(r"^A: #")).first.inner_text()
        assert caption == f"A: {chosen}"
