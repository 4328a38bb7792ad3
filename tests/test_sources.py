"""The data-source policy: typed paths must stay inside the allowed roots; synthetic always works."""

from __future__ import annotations

import os

import pytest

from cifar_core.app.sources import DEFAULT_ENV, ROOTS_ENV, allowed_roots, check_path, check_source, default_source
from cifar_core.errors import DataError


@pytest.fixture
def roots(tmp_path, monkeypatch):
    allowed = tmp_path / "allowed"
    (allowed / "cifar" / "train").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "passwords.txt").write_text("no")
    monkeypatch.setenv(ROOTS_ENV, str(allowed))
    return tmp_path


def test_synthetic_is_always_allowed(roots):
    assert check_source("synthetic") == "synthetic"
    assert check_source("  Synthetic ") == "synthetic"


def test_a_folder_inside_an_allowed_root_resolves_to_its_full_path(roots):
    assert check_source(str(roots / "allowed" / "cifar")) == str((roots / "allowed" / "cifar").resolve())


def test_relative_paths_are_taken_inside_the_first_root(roots):
    assert check_source("cifar/train") == str((roots / "allowed" / "cifar" / "train").resolve())


def test_a_path_outside_the_roots_is_refused_naming_them(roots):
    with pytest.raises(DataError, match="outside the folders this app may read from") as info:
        check_source(str(roots / "secret"))
    assert str((roots / "allowed").resolve()) in str(info.value)
    with pytest.raises(DataError, match="outside"):
        check_source("/etc")


def test_dot_dot_is_refused_even_when_it_would_land_inside(roots):
    with pytest.raises(DataError, match=r"'\.\.'"):
        check_source(str(roots / "allowed" / ".." / "secret"))
    with pytest.raises(DataError, match=r"'\.\.'"):
        check_source(str(roots / "allowed" / "cifar" / ".." / "cifar"))


def test_a_symlink_inside_a_root_pointing_outside_is_refused(roots):
    link = roots / "allowed" / "escape"
    os.symlink(roots / "secret", link)
    with pytest.raises(DataError, match="outside"):
        check_source(str(link))


def test_missing_paths_and_empty_input_get_clear_errors(roots):
    with pytest.raises(DataError, match="does not exist"):
        check_source(str(roots / "allowed" / "nope"))
    with pytest.raises(DataError, match="Type the path"):
        check_source("   ")


def test_several_roots_are_separated_by_pathsep(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv(ROOTS_ENV, os.pathsep.join([str(first), str(second)]))
    assert allowed_roots() == [first.resolve(), second.resolve()]
    assert check_source(str(second)) == str(second.resolve())


def test_default_source_prefers_the_environment_then_falls_back_to_synthetic(monkeypatch, tmp_path):
    monkeypatch.setenv(DEFAULT_ENV, "synthetic")
    assert default_source().is_synthetic
    monkeypatch.setenv(DEFAULT_ENV, str(tmp_path))
    chosen = default_source()
    assert chosen.source == str(tmp_path) and DEFAULT_ENV in chosen.reason
    monkeypatch.delenv(DEFAULT_ENV)
    monkeypatch.setattr("cifar_core.app.sources.project_data_dir", lambda: tmp_path / "empty")
    fallback = default_source()
    assert fallback.is_synthetic and "SYNTHETIC" in fallback.reason and "real CIFAR-10" in fallback.reason


def test_check_path_names_what_was_typed_in_its_errors(roots):
    with pytest.raises(DataError, match="The weights file is empty"):
        check_path("", what="weights file")
    assert check_path("cifar", what="weights file") == (roots / "allowed" / "cifar").resolve()


def test_without_roots_a_local_user_may_open_any_readable_path(tmp_path, monkeypatch):
    """Confinement is for a served deployment; on one's own machine any dataset opens."""
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    (tmp_path / "mine").mkdir()
    assert allowed_roots() == []
    assert check_source(str(tmp_path / "mine")) == str((tmp_path / "mine").resolve())
    assert check_source(str(tmp_path / "mine" / ".." / "mine")) == str((tmp_path / "mine").resolve())


def test_the_configured_default_source_can_always_be_typed_again(roots, monkeypatch):
    """After switching to synthetic, the CIFAR_EXPLORER_DATA path must not be refused: the operator chose it."""
    real = roots / "secret"
    monkeypatch.setenv(DEFAULT_ENV, str(real))
    assert check_source(str(real)) == str(real.resolve())
    with pytest.raises(DataError, match="outside"):
        check_source(str(roots / "elsewhere"))  # only that source, not its neighbours


def test_a_path_too_long_for_the_system_is_a_sentence(roots):
    with pytest.raises(DataError, match="cannot be opened: File name too long") as info:
        check_source(str(roots / "allowed" / ("a" * 5000)))
    assert len(str(info.value)) < 400
