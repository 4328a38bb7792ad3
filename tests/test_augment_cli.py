"""``python -m cifar_core augment`` writes a preview grid and reports what each image got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main


def _augment(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["augment", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_augment_writes_the_grid_and_prints_per_image_records(tmp_path: Path, capsys) -> None:
    out = tmp_path / "nested" / "grid.png"
    args = ["--data", "synthetic", "--n", "6", "--seed", "1", "--out", str(out), "--json", "--alpha", "0.5"]
    code, stdout, _ = _augment(capsys, *args)
    assert code == 0
    report = json.loads(stdout)
    assert [op["name"] for op in report["ops"]] == ["rotation", "resized_crop", "translate", "cutmix"]
    assert report["ops"][3]["params"] == {"alpha": 0.5} and report["seed"] == 1
    assert len(report["images"]) == 6
    for image in report["images"]:
        assert [op["op"] for op in image["ops"]] == ["rotation", "resized_crop", "translate", "cutmix"]
        assert image["class"] in CIFAR10_CLASSES and set(image["label_weights"]) <= set(CIFAR10_CLASSES)
        assert abs(sum(image["label_weights"].values()) - 1) < 1e-5
        assert image["ops"][3]["partner_class"] in CIFAR10_CLASSES
    with Image.open(out) as grid:
        assert grid.format == "PNG" and grid.width > 6 * 128

    code, again, _ = _augment(capsys, *args)
    assert code == 0 and again == stdout  # same seed, same images and records


def test_augment_without_json_prints_one_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    code, stdout, _ = _augment(capsys, "--data", "synthetic", "--n", "2", "--p", "0.0", "--out", str(out))
    assert code == 0 and stdout.startswith(f"wrote {out}") and out.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ops", "rotation,blur"], "Unknown augmentation op"),
        (["--p", "1.5"], "must be a number in"),
        (["--alpha", "-1"], "alpha"),
        (["--n", "0"], "--n"),
    ],
)
def test_augment_reports_bad_options_as_user_errors(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    code, _, stderr = _augment(capsys, "--data", "synthetic", "--out", str(tmp_path / "g.png"), *args)
    assert code == 2 and message in stderr


@pytest.mark.realdata
@pytest.mark.slow
def test_augment_previews_the_real_cifar_training_set(shared_tarball: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    cache = str(tmp_path / "cache")
    code, stdout, _ = _augment(capsys, "--data", str(shared_tarball), "--cache-dir", cache, "--n", "8", "--out", str(out), "--json")
    assert code == 0 and out.is_file()
    report = json.loads(stdout)
    assert all(0 <= image["train_index"] < 50_000 for image in report["images"])
    assert all(0 <= image["ops"][-1]["partner"] < 50_000 for image in report["images"])
