"""Wrong answers that must never be given silently: duplicate prediction ids, ambiguous Kaggle ids,
a single-class source, and which splits carry labels."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import make_images, png_bytes, write_7z, write_image_folder, write_kaggle

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main
from cifar_core.data import CifarData, CifarSplit, class_coverage_warnings, iter_unlabelled_images, load_cifar, load_synthetic
from cifar_core.data.access import ROOTS_ENV
from cifar_core.data.names import natural_key
from cifar_core.data.types import UNLABELLED
from cifar_core.errors import DataError
from cifar_core.runs import Run


@pytest.fixture(autouse=True)
def unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)


# --- prediction ids map back to files ----------------------------------------------------------


def test_ids_of_a_class_folder_test_set_are_unique_paths_that_name_the_files(tmp_path: Path) -> None:
    images, labels = make_images(3, seed=1)
    root = tmp_path / "testset"
    for image, label in zip(images, labels, strict=True):
        folder = root / "test" / CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{len(list(folder.iterdir())) + 1:04d}.png").write_bytes(png_bytes(image))
    ids = [i for batch, _ in iter_unlabelled_images(root, batch_size=7) for i in batch]
    assert len(ids) == len(set(ids)) == 30  # stems alone gave 3 distinct ids for 30 images
    assert ids[:3] == ["airplane/0001", "airplane/0002", "airplane/0003"]
    assert all((root / "test" / f"{sample_id}.png").is_file() for sample_id in ids)


def test_kaggle_test_ids_stay_numeric_stems(tmp_path: Path) -> None:
    write_7z(tmp_path / "test.7z", {f"test/{i}.png": png_bytes(np.zeros((3, 32, 32), np.uint8)) for i in (2, 1, 10)})
    assert [i for batch, _ in iter_unlabelled_images(tmp_path / "test.7z") for i in batch] == ["1", "2", "10"]


def test_image_folder_splits_get_unique_ids(tmp_path: Path) -> None:
    data = load_cifar(write_image_folder(tmp_path / "imgs", {"train": make_images(2, seed=4)}), cache_dir=tmp_path / "c")
    ids = data.splits["train"].ids
    assert len(set(ids)) == len(ids) == 20 and ids[:2] == ["airplane/1", "airplane/2"]


# --- one file per Kaggle id --------------------------------------------------------------------


def test_kaggle_images_that_share_an_id_are_refused_with_their_names(tmp_path: Path) -> None:
    images, labels = make_images(1, seed=2)
    write_kaggle(tmp_path / "k", (images, labels))
    members = {f"train/{i}.png": png_bytes(image) for i, image in enumerate(images, start=1)}
    members |= {"train/01.png": png_bytes(images[3]), "train/001.png": png_bytes(images[5])}
    write_7z(tmp_path / "k" / "train.7z", members)
    with pytest.raises(DataError, match=r"several images for the same id \(train/001.png, train/01.png, train/1.png\)"):
        load_cifar(tmp_path / "k", cache_dir=tmp_path / "c")


def test_names_that_tie_on_their_numbers_sort_the_same_whatever_order_they_were_listed_in() -> None:
    """File lists come from sets, whose order changes with PYTHONHASHSEED; the sorted order must not."""
    names = ["test/1.png", "test/01.png", "test/001.png", "test/2.png", "test/10.png"]
    orders = {tuple(sorted(permutation, key=natural_key)) for permutation in itertools.permutations(names)}
    assert orders == {("test/001.png", "test/01.png", "test/1.png", "test/2.png", "test/10.png")}


# --- classes missing from training or validation -----------------------------------------------


def _labels(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def test_a_single_class_source_is_called_meaningless() -> None:
    warnings = class_coverage_warnings(_labels(3, 3, 3), _labels(3), CIFAR10_CLASSES)
    assert warnings == [
        "Every training image is a cat: the model can only learn to answer cat, so its accuracy means nothing. "
        "Use a source with all the classes."
    ]


def test_missing_training_classes_and_validation_gaps_are_named() -> None:
    train = _labels(*range(8), UNLABELLED)  # no ship, no truck
    val = _labels(*range(1, 8))  # no airplane
    assert class_coverage_warnings(train, val, CIFAR10_CLASSES) == [
        "The training images hold no ship, truck (2 of 10 classes): the model can never learn to recognise them.",
        "The validation images hold no airplane: validation accuracy says nothing about that class.",
    ]


def test_full_coverage_and_training_on_everything_draw_no_warning() -> None:
    every = _labels(*range(10))
    assert class_coverage_warnings(every, every, CIFAR10_CLASSES) == []
    assert class_coverage_warnings(every, _labels(), CIFAR10_CLASSES) == []


def test_cli_train_on_a_single_class_source_prints_the_warning_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    images, _ = make_images(6, seed=0)
    cats = np.full(len(images), CIFAR10_CLASSES.index("cat"), dtype=np.int64)
    write_kaggle(tmp_path / "cats", (images, cats))
    monkeypatch.setenv("CIFAR_EXPLORER_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "all-cats"
    argv = ["train", "--data", str(tmp_path / "cats"), "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--out", str(run)]
    assert main(argv) == 0
    assert "warning: Every training image is a cat" in capsys.readouterr().err
    start = Run(run).events("start")[0]
    assert start["warnings"][0].startswith("Every training image is a cat")


# --- has_labels: which splits carry labels -----------------------------------------------------


def test_has_labels_needs_a_present_non_empty_fully_labelled_split() -> None:
    synthetic = load_synthetic()
    assert synthetic.has_labels("train") and synthetic.has_labels("test") and not synthetic.has_labels("val")
    images = torch.zeros((2, 3, 32, 32), dtype=torch.uint8)
    data = CifarData(
        format="kaggle",
        source="x",
        classes=CIFAR10_CLASSES,
        cache_path=None,
        splits={
            "train": CifarSplit(images[:0], torch.zeros(0, dtype=torch.int64)),
            "test": CifarSplit(images, _labels(1, UNLABELLED)),
        },
    )
    assert not data.has_labels("train") and not data.has_labels("test")
