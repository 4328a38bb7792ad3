"""The CLI contract other tools rely on: train, evaluate --json, predict, runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import cli_args

from cifar_core.cli import main

PROJECT = Path(__file__).resolve().parents[1]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "cifar_core", *args], cwd=PROJECT, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cli-run"
    cli(
        *cli_args(
            "train",
            model="simple_cnn",
            data="synthetic",
            epochs=2,
            batch_size=64,
            lr=1e-3,
            dropout=0.2,
            aug_p=0.06,
            mix_p=0.03,
            val_fraction=0.2,
            limit=300,
            seed=0,
            device="cpu",
            out=out,
        )
    )
    return out


def test_train_writes_a_complete_run_folder(cli_run):
    names = {p.name for p in cli_run.iterdir()}
    assert {"config.json", "metrics.jsonl", "status.json", "best.pt", "last.pt"} <= names
    assert json.loads((cli_run / "status.json").read_text())["state"] == "finished"
    config = json.loads((cli_run / "config.json").read_text())
    assert (config["aug_p"], config["mix_p"], config["limit"], config["epochs"]) == (0.06, 0.03, 300, 2)


def test_evaluate_json_has_the_documented_keys_and_consistent_numbers(cli_run):
    report = json.loads(cli("evaluate", "--run", str(cli_run), "--split", "val", "--json").stdout)
    assert {"accuracy", "loss", "n", "per_class", "confusion"} <= set(report)
    assert report["n"] == 60 and sum(map(sum, report["confusion"])) == 60
    diagonal = sum(report["confusion"][i][i] for i in range(10))
    assert report["accuracy"] == pytest.approx(diagonal / 60)
    assert set(report["per_class"]) == {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}


def test_evaluate_tta_flag_takes_a_level_and_alone_means_flip_and_shift(cli_run):
    def evaluate(*tta: str) -> dict:
        return json.loads(cli("evaluate", "--run", str(cli_run), "--split", "val", "--json", *tta).stdout)

    plain, flip, shift, bare = evaluate(), evaluate("--tta", "flip"), evaluate("--tta", "flip_shift"), evaluate("--tta")
    assert bare == shift and plain["n"] == flip["n"] == shift["n"] == 60
    assert plain["loss"] != flip["loss"] != shift["loss"]
    refused = cli("evaluate", "--run", str(cli_run), "--tta", "rotate", check=False)
    assert refused.returncode == 2 and "invalid choice: 'rotate'" in refused.stderr


def test_predict_writes_kaggle_id_label_csv_from_an_image_folder(cli_run, tmp_path):
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for image_id in (3, 1, 2, 10):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{image_id}.png")
    out = tmp_path / "submission.csv"
    cli("predict", "--run", str(cli_run), "--images", str(folder), "--out", str(out))
    lines = out.read_text().splitlines()
    assert lines[0] == "id,label"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3", "10"]
    assert all(
        line.split(",")[1] in {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
        for line in lines[1:]
    )


def test_runs_list_json_shows_the_run(cli_run):
    rows = json.loads(cli("runs", "--root", str(cli_run.parent), "list", "--json").stdout)
    assert [(r["run_id"], r["state"], r["epochs_done"]) for r in rows] == [("cli-run", "finished", 2)]


def test_bad_input_exits_non_zero_with_one_clear_line(tmp_path, capsys):
    assert main(["train", "--data", "synthetic", "--dropout", "1.5", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == "error: dropout must be between 0 and 0.95; got 1.5."
    assert main(["runs", "--root", str(tmp_path), "resume", ".."]) == 2
    assert "Invalid run id" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(tmp_path), "--json"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_every_run_flag_takes_an_id_from_the_runs_folder_or_a_path(cli_run, tmp_path, monkeypatch, capsys):
    """``--run cli-run`` means the run ``runs list`` shows, whatever the current folder; a path still works;
    a name that is neither is one sentence naming both places looked in."""
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(cli_run.parent))
    monkeypatch.chdir(tmp_path)  # an empty folder: the id cannot be found relative to it
    assert main(["evaluate", "--run", "cli-run", "--split", "val", "--json"]) == 0
    by_id = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--run", str(cli_run), "--split", "val", "--json"]) == 0
    by_path = json.loads(capsys.readouterr().out)
    assert by_id["run"] == by_path["run"] == "cli-run" and by_id["accuracy"] == by_path["accuracy"]
    assert main(["export", "--run", "missing-run", "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: No run 'missing-run': the runs folder {cli_run.parent} holds no run of that name, and "
        f"{tmp_path.resolve() / 'missing-run'} is not a run folder (no config.json)."
    )
    assert not (tmp_path / "m.onnx").exists()
