"""In a real browser, two students on one server: each browser context keeps its own Train form,
its selected run and its scored set through reloads; the run picker shows a student's own runs
first even after a study's 8 run folders appear.

Screenshots at 1366x768 go to ``artifacts/class`` for a person to look at.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from app_support import RUN_ID, trained_root  # noqa: F401  (fixture)
from browser_support import CHROMIUM, CHROMIUM_ARGS, app_server, number_value, open_page, screenshots_dir, select_option, set_number, settle
from study_support import GRID, tiny_base
from support import tiny_config

from cifar_core.runs import RunStore
from cifar_core.study import StudyFolder, studies_root
from cifar_core.study.definition import plan_study
from cifar_core.ui import browser

pytestmark = pytest.mark.browser
SCREEN = {"width": 1366, "height": 768}
SEEDED = "s0s0s0s0s0s0s0s0"  # a browser whose own run is the trained one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_root: Path) -> Iterator[tuple[str, Path]]:  # noqa: F811
    """A server whose runs folder holds the trained run, a newer untrained run and a study's 8 run folders."""
    tmp = tmp_path_factory.mktemp("class")
    runs = tmp / "runs"
    runs.mkdir()
    shutil.copytree(trained_root / RUN_ID, runs / RUN_ID)
    store = RunStore(runs)
    store.create(tiny_config(), "simple_cnn-20261202-090000-bbbb")  # another student's, newer
    study = plan_study(tiny_base(), runs, grid=GRID, seeds=2)
    StudyFolder.create(studies_root(runs) / study.id, study)
    for planned in study.runs:
        store.create(tiny_config(), planned.run_id)
    browser.save_values(runs, SEEDED, {browser.OWN_RUNS: [RUN_ID]})
    env = {"CIFAR_EXPLORER_RUNS": str(runs), "CIFAR_EXPLORER_DATA": "synthetic", "CIFAR_EXPLORER_CACHE": str(tmp / "cache")}
    env["CIFAR_EXPLORER_DATA_ROOTS"] = str(tmp)
    with app_server(tmp, env) as running:
        yield running.url, running.runs


@pytest.fixture(scope="module")
def chromium(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def tab(chromium):
    page = chromium.new_context(viewport=SCREEN).new_page()
    page.set_default_timeout(90_000)
    return page


def token_of(page) -> str:
    return parse_qs(urlparse(page.url).query).get("b", [""])[0]


def shot(page, name: str) -> None:
    settle(page)
    page.screenshot(path=screenshots_dir("class") / f"{name}.png")


def test_two_browsers_keep_their_own_train_form(server, chromium):
    url, runs = server
    first, second = tab(chromium), tab(chromium)
    first.goto(url)
    first.get_by_text("Samples per class").wait_for(timeout=120_000)
    settle(first)
    token = token_of(first)
    assert browser.valid_token(token)
    open_page(first, "Train")
    assert token_of(first) == token  # a page switch keeps the browser's key in the URL
    set_number(first, "Epochs", 7)
    set_number(first, "Seed", 5)
    shot(first, "train_first_browser")

    second.goto(url)
    second.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(second, "Train")
    assert token_of(second) not in ("", token)
    assert (number_value(second, "Epochs"), number_value(second, "Seed")) == ("30", "0")  # the recipe's defaults

    first.reload()
    first.get_by_role("heading", name="Train", exact=True).first.wait_for()
    settle(first)
    first.wait_for_timeout(1000)
    assert token_of(first) == token
    assert (number_value(first, "Epochs"), number_value(first, "Seed")) == ("7", "5")
    assert (number_value(second, "Epochs"), number_value(second, "Seed")) == ("30", "0")


def test_own_runs_come_first_and_a_reload_on_evaluate_keeps_run_and_set(server, chromium):
    url, _ = server
    page = tab(chromium)
    page.goto(f"{url}/evaluate?b={SEEDED}")
    page.get_by_role("heading", name="Evaluate", exact=True).first.wait_for(timeout=120_000)
    settle(page)
    picker = page.get_by_role("combobox", name="Selected run")
    assert picker.input_value().startswith(f"★ {RUN_ID}")  # own run, though a study and another run are newer
    picker.click()
    options = [option.inner_text() for option in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    assert options[0].startswith(f"★ {RUN_ID}") and options[1].startswith("simple_cnn bbbb")
    assert len(options) == 3 and re.match(r"▸ .*\(8 runs\)", options[2])
    shot(page, "evaluate_picker")

    test_set = next(label for label in _image_choices(page) if label.startswith("The test images"))
    select_option(page, "Images to score", test_set)
    page.get_by_text(re.compile("test images of")).first.wait_for()
    page.reload()
    page.get_by_role("heading", name="Evaluate", exact=True).first.wait_for()
    settle(page)
    assert page.get_by_role("combobox", name="Selected run").input_value().startswith(f"★ {RUN_ID}")
    assert page.get_by_role("combobox", name="Images to score").input_value() == test_set
    shot(page, "evaluate_after_reload")


def _image_choices(page) -> list[str]:
    box = page.get_by_role("combobox", name="Images to score")
    box.click()
    labels = [option.inner_text() for option in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    return labels
