"""The documentation: README stays a short front page whose links resolve, and the MkDocs site builds strictly."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_a_front_page_whose_relative_links_all_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 200
    links = re.findall(r"\]\(([^)#]+)\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert "docs/measurements.md" in local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []


def test_the_docs_site_builds_with_strict_link_checks(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "site" / "measurements" / "index.html").is_file()


def test_readme_states_the_lesson_takeaway_exactly_as_the_published_study_computes_it() -> None:
    from cifar_core.study.published import PUBLISHED_ROOT, lesson_takeaway

    if not (PUBLISHED_ROOT / "lesson" / "study.json").is_file():
        pytest.skip("the lesson study is not published in this copy")
    assert f"> {lesson_takeaway()}\n" in (ROOT / "README.md").read_text()
