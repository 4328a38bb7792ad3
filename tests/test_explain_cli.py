"""The explain CLI: mistakes agree with evaluate, maps and map files, suspect labels, and one
sentence with exit code 2 for every bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from data_fixtures import make_images, write_image_folder
from explain_support import copy_of, trained_explain_run
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main
from cifar_core.explain.cache import FOLDER
from cifar_core.models import MODEL_REGISTRY
from cifar_core.models.registry import ModelSpec
from cifar_core.runs import RunStore
from cifar_core.runs.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
from cifar_core.train import TrainConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_explain_run(tmp_path_factory)


def rows_of(path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def run_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def refused(capsys, *argv: str) -> str:
    """The one line a bad command prints, after checking it exits with code 2."""
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    return lines[0].removeprefix("error: ")


@pytest.mark.parametrize("split", ["val", "test"])
def test_mistakes_count_equals_evaluates_n_minus_correct(capsys, run, split):
    scores = run_json(capsys, "evaluate", "--run", str(run.dir), "--split", split, "--json")
    report = run_json(capsys, "mistakes", "--run", str(run.dir), "--split", split, "--json")
    correct = round(scores["accuracy"] * scores["n"])
    assert report["n"] == scores["n"] and len(report["mistakes"]) == scores["n"] - correct
    confidences = [item["confidence"] for item in report["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    for item in report["mistakes"]:
        assert set(item) == {"index", "true", "predicted", "confidence", "top3"} and item["true"] != item["predicted"]
        assert item["top3"][0] == [item["predicted"], item["confidence"]]
    off_diagonal = sum(count for t, row in enumerate(scores["confusion"]) for p, count in enumerate(row) if t != p)
    assert off_diagonal == len(report["mistakes"])


def test_explain_writes_the_grid_and_maps_for_the_chosen_images(capsys, run, tmp_path):
    wrong = run_json(capsys, "mistakes", "--run", str(run.dir), "--json")["mistakes"]
    indices = [wrong[0]["index"], wrong[-1]["index"]]
    out = tmp_path / "grid.png"
    report = run_json(capsys, "explain", "--run", str(run.dir), "--index", ",".join(map(str, indices)), "--out", str(out), "--json")
    assert [item["index"] for item in report["images"]] == indices
    for item, mistake in zip(report["images"], (wrong[0], wrong[-1])):
        assert (item["true"], item["predicted"]) == (mistake["true"], mistake["predicted"])
        saliency_map = np.array(item["map"])
        # scaled to a peak of 1, or all zero where Grad-CAM finds no positive evidence (about 1 image in 200 here)
        assert saliency_map.shape == (32, 32) and saliency_map.min() >= 0 and saliency_map.max() in (0.0, pytest.approx(1.0))
    assert any(np.max(item["map"]) == pytest.approx(1.0) for item in report["images"])
    with Image.open(out) as grid:
        assert grid.size == (3 * 128 + 4, 2 * 128 + 2)
    occluded = run_json(
        capsys, "explain", "--run", str(run.dir), "--index", str(indices[0]), "--method", "occlusion", "--out", str(out), "--json"
    )
    assert not np.allclose(occluded["images"][0]["map"], report["images"][0]["map"])


def test_embed_writes_every_point_and_reuses_its_cache_until_the_checkpoint_changes(capsys, run, tmp_path):
    private = copy_of(run, tmp_path / "runs")
    out = tmp_path / "map.csv"
    assert main(["embed", "--run", str(private.dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {len(rows_of(out))} points to {out}"
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    scores = run_json(capsys, "evaluate", "--run", str(private.dir), "--json")
    assert len(rows) == scores["n"] and list(rows[0]) == ["index", "x", "y", "true", "predicted", "confidence"]
    assert sum(row["true"] != row["predicted"] for row in rows) == round(scores["n"] * (1 - scores["accuracy"]))
    cached = private.dir / FOLDER / "embedding-val-best.json"
    stored = json.loads(cached.read_text())
    stored["value"]["x"] = [1234.5] * len(stored["value"]["x"])  # mark the cache: a reuse must show it
    cached.write_text(json.dumps(stored))
    assert main(["embed", "--run", str(private.dir), "--out", str(out)]) == 0
    assert {row["x"] for row in csv.DictReader(out.open())} == {"1234.5000"}
    best = private.checkpoint_path("best")
    best.touch()  # a newer best.pt: the map is computed again
    assert main(["embed", "--run", str(private.dir), "--out", str(out)]) == 0
    assert "1234.5000" not in {row["x"] for row in csv.DictReader(out.open())}
    assert sorted(path.name for path in cached.parent.iterdir()) == ["embedding-val-best.json"]  # no temp files left


def test_label_issues_lists_suspects_with_given_and_suggested_labels(capsys, run):
    report = run_json(capsys, "label-issues", "--run", str(run.dir), "--json")
    assert report["n"] == 200 and report["suspects"]
    scores = [item["score"] for item in report["suspects"]]
    assert scores == sorted(scores)  # most suspect (lowest label quality) first
    for item in report["suspects"]:
        assert set(item) == {"index", "given", "suggested", "score"} and 0 <= item["score"] <= 1


def test_bad_input_is_one_sentence_and_exit_code_2(capsys, run, tmp_path, monkeypatch):
    base = ["--run", str(run.dir)]
    assert refused(capsys, "explain", *base, "--index", "5000", "--out", str(tmp_path / "g.png")) == (
        "Image index 5000 is out of range: the source's images are numbered 0 to 999."
    )
    assert refused(capsys, "explain", *base, "--index", "1,x", "--out", str(tmp_path / "g.png")).startswith(
        "Image indices must be whole numbers"
    )
    assert not (tmp_path / "g.png").exists()
    folder = write_image_folder(tmp_path / "train-only", {"train": make_images(3, seed=0)})
    answer = refused(capsys, "mistakes", *base, "--data", str(folder), "--split", "test")
    assert answer == f"{folder} has no test split; it holds train images."
    empty = RunStore(tmp_path / "runs").create(TrainConfig(data="synthetic"), "never-trained")
    assert refused(capsys, "embed", "--run", str(empty.dir), "--out", str(tmp_path / "m.csv")).startswith("Checkpoint not found")
    spec = MODEL_REGISTRY["simple_cnn"]
    monkeypatch.setitem(MODEL_REGISTRY, "plain_cnn", ModelSpec("plain_cnn", spec.build, "no explain layers"))
    plain = RunStore(tmp_path / "runs").create(TrainConfig(data="synthetic", model="plain_cnn"), "plain")
    weights = spec.build(dropout=0.2).state_dict()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": plain.config().to_dict(),
        "classes": list(CIFAR10_CLASSES),
        "epoch": 1,
        "model": weights,
    }
    save_checkpoint(plain.checkpoint_path("best"), payload)
    assert refused(capsys, "explain", "--run", str(plain.dir), "--index", "0", "--out", str(tmp_path / "g.png")) == (
        "Model 'plain_cnn' has no registered layer to explain, so saliency and embedding maps are not available for it."
    )
