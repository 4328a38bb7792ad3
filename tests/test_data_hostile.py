"""Hostile sources that once escaped as Python errors or were silently misread: Kaggle ids that are digits
only to Unicode, ids past int()'s limit, and archives whose declared sizes are a bomb (issue 25)."""

from __future__ import annotations

import gzip
import tarfile
import time
from pathlib import Path

import pytest
from data_fixtures import make_images, png_bytes, write_7z, write_kaggle

from cifar_core.classes import CIFAR10_CLASSES
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


ZEROS = 3 * 2**30


def _tar_member(name: str, data: bytes = b"", size: int | None = None) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    return info.tobuf() + data + bytes(-len(data) % 512)


def write_skip_bomb(path: Path, zeros_name: str) -> Path:
    """The issue's archive, complete and valid: a 3 MB .tar.gz with one PNG per class, then 3 GB of zeros.

    gzip reads members written one after another as one stream, so the 3 GB are one compressed MB
    of zeros written 3,073 times (the last MB holds tar's end blocks): built in milliseconds, yet
    listing the tar inflates all of it, as skipping a member of a compressed tar must.
    """
    pngs = [_tar_member(f"train/{CIFAR10_CLASSES[label]}/{i}.png", png_bytes(image)) for i, (image, label) in enumerate(zip(*TRAIN))]
    megabyte_of_zeros = gzip.compress(bytes(2**20))
    with path.open("wb") as out:
        out.write(gzip.compress(b"".join(pngs) + _tar_member(zeros_name, size=ZEROS)))
        for _ in range(ZEROS // 2**20 + 1):
            out.write(megabyte_of_zeros)
    return path


@pytest.mark.parametrize("zeros_name", ["zeros.bin", "__MACOSX/._zeros.bin"])  # the second is a name listing ignores
def test_a_member_no_layout_reads_declaring_gigabytes_is_refused_while_listing_at_once_and_again(
    tmp_path: Path, zeros_name: str, capsys
) -> None:
    bomb = write_skip_bomb(tmp_path / "bomb.tar.gz", zeros_name)
    assert bomb.stat().st_size < 4 * 2**20
    with tarfile.open(bomb) as tar:  # what the headers say, without inflating the zeros
        first = [tar.next() for _ in range(11)]
    assert [member.size for member in first][-1] == ZEROS and all(member.name.endswith(".png") for member in first[:10])
    for _attempt in range(2):  # a retry costs no more than the first try
        started = time.monotonic()
        assert main(["data", "info", "--data", str(bomb), "--cache-dir", str(tmp_path / "cache")]) == 2
        assert time.monotonic() - started < 2.0  # inflating the 3 GB takes 10-30 s
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert f"{bomb} declares 3,072.0 MB of files in all, more than any CIFAR-10 source holds (2,048.0 MB at most" in err
