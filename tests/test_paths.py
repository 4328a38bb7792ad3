"""Default folders: beside the code in a checkout, the per-user folder when installed, the variable over both."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_core import paths

REPO = Path(__file__).resolve().parents[1]


def test_checkout_keeps_its_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.RUNS_ENV, raising=False)
    roots = paths.default_roots()
    assert roots.checkout == REPO
    assert (roots.runs, roots.data, roots.studies) == (REPO / "checkpoints", REPO / "data", REPO / "docs" / "studies")


def test_installed_layout_uses_the_user_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "site-packages"  # what a wheel leaves: the package, no pyproject.toml beside it
    (site / "cifar_core").mkdir(parents=True)
    monkeypatch.setattr(paths, "CODE_ROOT", site)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.delenv(paths.RUNS_ENV, raising=False)
    roots = paths.default_roots()
    user = tmp_path / "share" / "cifar-explorer"
    assert roots.checkout is None
    assert (roots.runs, roots.data) == (user / "runs", user / "data")
    assert roots.studies == site / "cifar_core" / paths.SHIPPED_STUDIES  # read only: the wheel ships them there
    assert "installed package" in roots.runs_why and "read only" in roots.studies_why
    monkeypatch.setenv(paths.RUNS_ENV, str(tmp_path / "mine"))
    roots = paths.default_roots()
    assert roots.runs == tmp_path / "mine" and paths.RUNS_ENV in roots.runs_why
