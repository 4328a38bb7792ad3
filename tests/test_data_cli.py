"""``python -m cifar_core data info``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_fixtures import make_images, write_image_folder

from cifar_core.cli import main


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "imgs", {"train": make_images(2, seed=41), "test": make_images(1, seed=42)})


def test_info_json(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--data", str(source), "--json", "--cache-dir", str(tmp_path / "c")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "image_folder" and info["synthetic"] is False
    assert info["source"] == str(source.resolve())
    assert info["splits"]["train"]["count"] == 20
    assert info["splits"]["test"]["per_class"]["truck"] == 1
    assert info["cache"].startswith(str(tmp_path / "c"))


def test_info_text(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--data", str(source), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "format:  image_folder" in out
    assert "train: 20 images" in out and "  airplane    2" in out
    assert f"cache:   {tmp_path / 'c'}" in out


def test_info_synthetic(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--data", "synthetic", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "synthetic" and info["synthetic"] is True and info["cache"] is None
    assert main(["data", "info", "--data", "synthetic"]) == 0
    assert "synthetic" in capsys.readouterr().out


def test_info_bad_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--data", str(tmp_path / "missing"), "--cache-dir", str(tmp_path / "c")]) == 2
    assert "does not exist" in capsys.readouterr().err
