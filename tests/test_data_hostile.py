"""Hostile sources that once escaped as Python errors or were silently misread: Kaggle ids that are digits
only to Unicode, ids past int()'s limit, and archives whose declared sizes are a bomb."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import make_images, png_bytes, write_7z, write_kaggle

from cifar_core.cli import main
from cifar_core.data import load_cifar
from cifar_core.data.access import ROOTS_ENV
from cifar_core.errors import DataError

TRAIN = make_images(1, seed=5)


@pytest.fixture(autouse=True)
def unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)


@pytest.fixture
def kaggle(tmp_path: Path) -> Path:
    return write_kaggle(tmp_path / "kaggle", TRAIN)


@pytest.mark.parametrize("bad_id", ["\u00b2", "\u0662", "7" * 5000, "-3", " "])
def test_a_csv_id_that_is_not_ascii_digits_is_one_sentence_naming_the_line(kaggle: Path, tmp_path: Path, bad_id: str, capsys) -> None:
    rows = (kaggle / "trainLabels.csv").read_text().splitlines()
    rows[3] = f"{bad_id},cat"
    (kaggle / "trainLabels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"trainLabels.csv' line 4: expected '<numeric id>,<class name>'.*ASCII digits"):
        load_cifar(kaggle, cache_dir=tmp_path / "cache")
    assert main(["data", "info", "--data", str(kaggle), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err.strip()
    assert "line 4" in err and len(err.splitlines()) == 1 and len(err) < 400


def test_an_image_named_with_arabic_indic_digits_is_not_taken_for_an_ascii_id(kaggle: Path, tmp_path: Path) -> None:
    members = {f"train/{i}.png": png_bytes(image) for i, image in enumerate(TRAIN[0], 1)}
    members["train/\u0662.png"] = members.pop("train/2.png")  # '٢' reads as 2 to int()
    write_7z(kaggle / "train.7z", members)
    with pytest.raises(DataError, match=r"has images with no id in .*trainLabels.csv': train/\u0662.png"):
        load_cifar(kaggle, cache_dir=tmp_path / "cache")
