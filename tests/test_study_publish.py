"""Published studies: the script that makes them (tiny, on generated images), the folders shipped
in docs/studies (the named studies at their default size, no weights), and reading them back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from study_support import ABLATION_VARIANTS

from cifar_core.errors import RunError
from cifar_core.study.catalog import NAMED_STUDIES, get_named_study
from cifar_core.study.published import GRID_METRIC, PUBLISHED_ROOT, grid_cells, list_published, load_published
from cifar_core.train import TrainConfig

PROJECT = Path(__file__).resolve().parents[1]
REQUIRED = ("variant", "seed", "final_train_acc", "final_val_acc")
SHIPPED = sorted(path for path in PUBLISHED_ROOT.iterdir() if path.is_dir()) if PUBLISHED_ROOT.is_dir() else []


def publish(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIFAR_EXPLORER_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "scripts/publish_study.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_script_publishes_one_row_per_variant_and_seed_with_curves_config_and_command(tmp_path):
    args = [
        "dropout",
        "--data",
        "synthetic",
        "--epochs",
        "1",
        "--limit",
        "200",
        "--seeds",
        "2",
        "--runs-root",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "pub"),
    ]
    result = publish(*args, cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["state"], summary["runs_finished"], summary["runs_planned"]) == ("finished", 8, 8)
    out = tmp_path / "pub"
    assert sorted(path.name for path in out.iterdir()) == ["command.txt", "curves.json", "results.csv", "study.json"]
    runs = pd.read_csv(out / "results.csv")
    assert set(REQUIRED) <= set(runs.columns) and len(runs) == 8
    assert sorted(zip(runs["variant"], runs["seed"])) == sorted((f"dropout={p}", s) for p in (0.0, 0.1, 0.2, 0.4) for s in (0, 1))
    assert runs["acc_gap"].tolist() == pytest.approx((runs["final_train_acc"] - runs["final_val_acc"]).tolist(), abs=1e-5)
    definition = json.loads((out / "study.json").read_text())
    assert definition["name"] == "dropout" and definition["base"]["epochs"] == 1 and "runs_root" not in definition
    assert (out / "command.txt").read_text() == "python scripts/publish_study.py " + " ".join(args) + "\n"
    curves = json.loads((out / "curves.json").read_text())
    assert {variant: len(per_seed) for variant, per_seed in curves.items()} == {f"dropout={p}": 2 for p in (0.0, 0.1, 0.2, 0.4)}
    assert summary["sentences"][0].startswith("dropout=0.0 (reference): ")

    again = publish(*args, cache=tmp_path / "cache")  # the same command goes on where it stopped: nothing left
    assert again.returncode == 0 and "[1/8]" not in again.stderr
    other = publish(*[*args[:4], "2", *args[5:]], cache=tmp_path / "cache")  # --epochs 2 into the same runs root
    assert other.returncode == 2 and other.stderr.strip().endswith("give another --runs-root to start afresh.")


def test_gpu_study_sh_runs_the_ablation_and_its_stop_after_limit_keeps_the_finished_run(tmp_path):
    """bench/gpu_study.sh at a tiny size on the CPU: its time guard at 0 minutes lets exactly one run finish."""
    env = {
        **os.environ,
        "CIFAR_EXPLORER_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "DEVICE": "cpu",
        "LIMIT": "200",
        "EPOCHS": "1",
        "SEEDS": "2",
        "STOP_AFTER": "0",
    }
    result = subprocess.run(
        ["bash", "bench/gpu_study.sh", "synthetic", str(tmp_path / "gpu")],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr  # not every planned run finished
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["study"], summary["state"], summary["runs_finished"], summary["runs_planned"]) == ("ablation", "cancelled", 1, 20)
    assert summary["device"] == "cpu" and summary["wall_s"] > 0
    published = tmp_path / "gpu" / "ablation"
    assert pd.read_csv(published / "results.csv")[["variant", "seed"]].values.tolist() == [["none", 0]]
    assert "--limit 200 --epochs 1 --seeds 2 --stop-after-minutes 0" in (published / "command.txt").read_text()


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_each_shipped_study_is_a_named_study_at_its_default_size_or_a_labelled_resized_copy_without_weights(folder):
    study = load_published(folder)
    named = get_named_study(study.name)
    base = study.definition["base"]
    config = TrainConfig.from_dict(base)  # fields added since take their defaults
    default = named.config(data=base["data"], device=base["device"])  # only data and device chosen at run time
    seeds = study.definition["seeds"]
    if folder.name == named.name:  # the named study as published: its default size (more seeds where the command says so)
        assert config.to_dict() == default.to_dict()
        assert study.command.startswith(f"python scripts/publish_study.py {named.name} --data ")
        assert seeds == list(range(max(named.seeds, len(seeds))))
        assert len(seeds) == named.seeds or f"--seeds {len(seeds)}" in study.command
    else:  # another size of it (bench/gpu_study.sh's full-size ablation): the folder says which, the command how
        assert folder.name.startswith(f"{named.name}-")
        assert config.to_dict() == default.replace(limit=config.limit, epochs=config.epochs).to_dict()
        assert f"python scripts/publish_study.py {named.name} --data " in study.command
        assert f"--limit {config.limit} --epochs {config.epochs} --seeds {len(seeds)}" in study.command
    assert set(REQUIRED) <= set(study.runs.columns) and len(study.runs) >= 1
    assert not study.runs.duplicated(["variant", "seed"]).any()
    assert set(study.runs["variant"]) <= set(study.variants) and set(study.runs["seed"]) <= set(seeds)
    assert not [path for path in folder.rglob("*") if path.suffix in (".pt", ".pth")]
    assert sum(path.stat().st_size for path in folder.rglob("*")) < 1_000_000


def test_the_shipped_studies_have_distinct_labels_naming_folder_size_and_device():
    """Two folders hold the named ablation (CPU and H100): the page's picker must tell them apart."""
    published = {study.dir.name: study for study in list_published()}
    assert len({study.label for study in published.values()}) == len(published)
    if "ablation-gpu-h100" in published:
        assert published["ablation-gpu-h100"].label == "ablation-gpu-h100 · 50,000 images, 10 epochs, 5 seeds · NVIDIA H100 80GB HBM3"
        assert published["ablation-gpu-h100"].split == "40,000 train / 10,000 validation"
    if "aug_mix_grid" in published:  # published from an H100 (the card named in command.txt's note)
        assert published["aug_mix_grid"].label == "aug_mix_grid · 5,000 images, 15 epochs, 5 seeds · NVIDIA H100 80GB HBM3"
    if "ablation" in published:
        assert published["ablation"].label == "ablation · 5,000 images, 15 epochs, 3 seeds · CPU"
        assert published["ablation"].split == "4,000 train / 1,000 validation"


def test_the_label_reads_the_card_from_study_json_else_from_the_commands_note_else_names_the_device(tmp_path):
    source = PUBLISHED_ROOT / "ablation"
    if not source.is_dir():
        pytest.skip("the ablation has not been published in this copy")
    folder = tmp_path / "ablation-a100"
    copy_files(source, folder)
    definition = json.loads((folder / "study.json").read_text())
    definition["base"].update(device="cuda", limit=20000, epochs=4)
    definition["seeds"] = [0, 1]
    (folder / "study.json").write_text(json.dumps(definition))
    note = "# which ran (on one NVIDIA A100-SXM4-40GB, torch 2.11; 20 runs):"
    (folder / "command.txt").write_text(f"bash bench/gpu_study.sh data.tar.gz\n{note}\npython scripts/publish_study.py ablation\n")
    study = load_published(folder)
    assert study.label == "ablation-a100 · 20,000 images, 4 epochs, 2 seeds · NVIDIA A100-SXM4-40GB"
    assert study.split == "16,000 train / 4,000 validation"
    definition["environment"]["device_name"] = "NVIDIA L4"
    (folder / "study.json").write_text(json.dumps(definition))
    assert load_published(folder).device == "NVIDIA L4"
    del definition["environment"]["device_name"]
    (folder / "study.json").write_text(json.dumps(definition))
    (folder / "command.txt").write_text("python scripts/publish_study.py ablation --device cuda\n")
    assert load_published(folder).device == "device cuda"


def test_a_grid_study_gives_its_heatmap_cells_with_95_percent_intervals():
    runs = pd.DataFrame(
        [
            {"variant": variant, "seed": seed, "state": "finished", "final_val_acc": acc, "chance_warning": None}
            for variant, accs in (("aug_p=0.0, mix_p=0.0", (0.50, 0.52)), ("aug_p=0.0, mix_p=0.5", (0.60, 0.64)))
            for seed, acc in enumerate(accs)
        ]
    )
    definition = get_named_study("aug_mix_grid").plan(".", data="synthetic").to_dict()
    frame, x_field, y_field = grid_cells(definition, runs)
    assert (x_field, y_field) == ("aug_p", "mix_p") and len(frame) == 9
    first = frame.iloc[0]
    assert (first["aug_p"], first["mix_p"], first[f"{GRID_METRIC}_mean"]) == (0.0, 0.0, pytest.approx(0.51))
    assert first[f"{GRID_METRIC}_std"] == pytest.approx(12.706 * 0.01, rel=1e-3)  # t(0.975, 1) · s / √2 with s = 0.01·√2
    assert frame[f"{GRID_METRIC}_mean"].isna().sum() == 8  # the variant named mix_p=0.5 is not in this grid
    assert grid_cells(get_named_study("ablation").plan(".", data="synthetic").to_dict(), runs) is None


def test_the_shipped_ablation_names_its_variants_as_the_issue_asks():
    if not (PUBLISHED_ROOT / "ablation").is_dir():
        pytest.skip("the ablation has not been published in this copy")
    study = load_published(PUBLISHED_ROOT / "ablation")
    assert study.variants == ABLATION_VARIANTS


def test_a_damaged_published_folder_is_named_in_one_sentence_and_skipped_by_the_list(tmp_path):
    good = tmp_path / "good"
    copy_files(PUBLISHED_ROOT / SHIPPED[0].name if SHIPPED else None, good)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "study.json").write_text("{not json")
    with pytest.raises(RunError, match=r"^The published study in .*broken cannot be read"):
        load_published(broken)
    assert [study.dir.name for study in list_published(tmp_path)] == (["good"] if SHIPPED else [])
    assert set(NAMED_STUDIES) >= {study.name for study in list_published()}


def copy_files(source: Path | None, target: Path) -> None:
    """Copy one shipped study's files (regular files only) for the list test."""
    if source is None:
        return
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
