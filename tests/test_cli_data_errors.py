"""CLI commands of the data side answer bad input with one sentence and exit 2, before any work is
wasted: predict's output path, evaluate's device, resize advice that fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import make_images, png_bytes, write_image_folder
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main
from cifar_core.data.access import ROOTS_ENV
from cifar_core.device import resolve_device
from cifar_core.errors import ConfigError


@pytest.fixture(autouse=True)
def unconfined(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    monkeypatch.setenv("CIFAR_EXPLORER_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    argv = ["train", "--data", "synthetic", "--epochs", "1", "--limit", "100", "--batch-size", "50", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    return out


def _class_folder_test_set(root: Path) -> Path:
    images, labels = make_images(2, seed=9)
    for image, label in zip(images, labels, strict=True):
        folder = root / "test" / CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{len(list(folder.iterdir())) + 1:04d}.png").write_bytes(png_bytes(image))
    return root


def test_predict_refuses_a_folder_as_output_before_doing_anything(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["predict", "--run", str(tmp_path / "no-such-run"), "--images", str(tmp_path), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --out {tmp_path} is a folder; give a file name such as {tmp_path / 'submission.csv'}."
    )


def test_predict_never_replaces_a_file_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    precious = tmp_path / "thesis.csv"
    precious.write_text("chapter,words\n1,9000\n")
    argv = ["predict", "--run", str(tmp_path / "no-such-run"), "--images", str(tmp_path), "--out", str(precious)]
    assert main(argv) == 2
    assert "already exists and is not a prediction file" in capsys.readouterr().err
    assert precious.read_text() == "chapter,words\n1,9000\n"


def test_predict_on_a_class_folder_test_set_writes_one_row_per_file_with_unique_ids(tiny_run: Path, tmp_path: Path) -> None:
    images = _class_folder_test_set(tmp_path / "testset")
    out = tmp_path / "submission.csv"
    out.write_text("id,label\nold,cat\n")  # an earlier submission may be replaced
    assert main(["predict", "--run", str(tiny_run), "--images", str(images), "--out", str(out)]) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)) == 20 and ids[0] == "airplane/0001"
    assert all((images / "test" / f"{sample_id}.png").is_file() for sample_id in ids)
    assert {label for _, label in rows} <= set(CIFAR10_CLASSES)


def test_evaluate_with_an_unknown_device_is_one_sentence(tiny_run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--run", str(tiny_run), "--device", "foo"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: device 'foo' is not a device name; use auto, cpu, cuda (or cuda:N for the N-th GPU) or mps."
    )


def test_resolve_device_refuses_unknown_types_and_absent_gpus() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="'meta' is not supported here"):
        resolve_device("meta")
    with pytest.raises(ConfigError, match="'cuda:x' is not a device name"):
        resolve_device("cuda:x")
    with pytest.raises(ConfigError, match="'cuda:99' was asked for but this machine has"):
        resolve_device("cuda:99")


def test_only_a_command_with_resize_advises_it(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_image_folder(tmp_path / "imgs", {"train": make_images(1, seed=0)})
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(folder / "train" / "cat" / "1.png")
    assert main(["data", "info", "--data", str(folder)]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "is 40x40 pixels, but CIFAR-10 images are 32x32; resize the images to 32x32 first, "
            "or pass --resize to resize them while loading"
        )
    )
    assert main(["data", "info", "--data", str(folder), "--resize"]) == 0
    out = tmp_path / "sub.csv"
    assert main(["predict", "--run", str(tiny_run), "--images", str(folder), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "is 40x40 pixels" in error and "--resize" not in error  # predict has no such flag
