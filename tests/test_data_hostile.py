"""Hostile sources that could escape as Python errors or be silently misread: Kaggle ids that are digits
only to Unicode, ids past int()'s limit, and archives whose declared sizes are a bomb."""

from __future__ import annotations

import gzip
import tarfile
import time
from pathlib import Path

import pytest
from data_fixtures import make_images, png_bytes, write_7z, write_image_folder, write_kaggle

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main
from cifar_core.data import archive, image_folder, load_cifar
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


def test_a_7z_whose_members_declare_more_than_any_source_is_refused_while_listing(tmp_path: Path, monkeypatch) -> None:
    """A 7z bomb: in a solid 7z (py7zr's default) reaching a member inflates the ones before it
    in its block, read or not, so a 7z's declared sizes are capped in all, as a tar's are (the cap scaled
    down here: compressing 3 GB with LZMA takes minutes)."""
    members = {f"train/{CIFAR10_CLASSES[label]}/{i}.png": png_bytes(image) for i, (image, label) in enumerate(zip(*TRAIN))}
    source = write_7z(tmp_path / "bomb.7z", {"zeros.bin": bytes(3 * 2**20), **members})
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 2 * 2**20)
    with pytest.raises(DataError, match=r"bomb.7z declares 3.0 MB of files in all, more than any CIFAR-10 source holds \(2.0 MB at most"):
        load_cifar(source, cache_dir=tmp_path / "cache")


REAL_LOAD = image_folder.load


def _change_while_read(monkeypatch: pytest.MonkeyPatch, before=None, after=None) -> None:
    """Make the folder change at a chosen moment of a real load: between listing and decoding
    (``before``) or during it, once its files are read (``after``), as another program writing
    into it would; the loader itself runs unchanged."""

    def load(tree, prefix, **kwargs):
        if before:
            before()
        loaded = REAL_LOAD(tree, prefix, **kwargs)
        if after:
            after()
        return loaded

    monkeypatch.setattr(image_folder, "load", load)


def test_a_folder_that_changes_while_it_is_read_is_one_sentence_and_nothing_is_cached(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = write_image_folder(tmp_path / "imgs", {"train": TRAIN})
    cache_dir = tmp_path / "cache"
    added = folder / "train" / "cat" / "new.png"
    _change_while_read(monkeypatch, after=lambda: added.write_bytes(png_bytes(TRAIN[0][0])))
    assert main(["data", "info", "--data", str(folder), "--cache-dir", str(cache_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{folder} changed while it was read" in err and "nothing was cached" in err
    assert not list(cache_dir.glob("*.npz"))

    victim = folder / "train" / "dog" / "1.png"
    kept = victim.read_bytes()
    _change_while_read(monkeypatch, before=victim.unlink)  # listed, then removed before it is read
    with pytest.raises(DataError, match=r"dog/1.png' was removed while its source was read; load it again once the source stops changing"):
        load_cifar(folder, cache_dir=cache_dir)
    assert not list(cache_dir.glob("*.npz"))

    monkeypatch.setattr(image_folder, "load", REAL_LOAD)
    victim.write_bytes(kept)  # the folder at rest: it loads, as it now is, and is cached
    assert load_cifar(folder, cache_dir=cache_dir).splits["train"].labels.tolist().count(3) == 2  # cat: 1 + new.png
    assert len(list(cache_dir.glob("*.npz"))) == 1
