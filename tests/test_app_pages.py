"""Every page renders without an exception, with no runs and with a trained run, and shares the sidebar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_support import APP, assert_ok, open_app

PAGES = re.findall(r'st\.Page\("app_pages/(\w+)\.py"', APP.read_text())


def test_the_navigation_lists_the_pages_and_no_pages_folder_exists():
    assert {"dataset", "augmentation_lab", "train", "runs", "evaluate"} <= set(PAGES)
    assert not (APP.parent / "pages").exists(), "a pages/ folder switches Streamlit to its old multipage mode"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_no_runs(app_env, page):
    at = open_app(page)
    assert_ok(at)
    assert any("SYNTHETIC" in warning.value for warning in at.sidebar.warning)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_a_trained_run_and_keeps_the_sidebar_on_rerun(trained_run, page):
    at = open_app(page)
    at.run()
    assert_ok(at)
    assert at.sidebar.selectbox(key="sidebar_run").value == trained_run.id
    assert Path(trained_run.dir).is_dir()
