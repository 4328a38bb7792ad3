"""Named studies: their variants and settings, their estimates on a quiet CPU, and each one run
end to end at a tiny size from the CLI (results file, one row per variant and seed, intervals)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from study_support import ABLATION_VARIANTS

from cifar_core.cli import main
from cifar_core.device import single_thread
from cifar_core.errors import ConfigError
from cifar_core.study import list_studies
from cifar_core.study.catalog import NAMED_STUDIES, get_named_study
from cifar_core.study.estimate import Throughput

# Training images/s measured on the idle 2-core development CPU (README, bench/epoch_time.py):
# fast_cnn 32/64/128 at batch 512 and simple_cnn at batch 256, both bf16 + channels_last.
QUIET_CPU = {"fast_cnn": 2261.0, "simple_cnn": 1182.0}
TINY = ["--data", "synthetic", "--epochs", "1", "--limit", "200", "--seeds", "2", "--device", "cpu"]


def test_the_named_studies_and_their_variants():
    assert list(NAMED_STUDIES) == ["lesson", "ablation", "aug_mix_grid", "dropout"]
    ablation = get_named_study("ablation").plan("/tmp/not-created")
    assert [v.name for v in ablation.variants] == ABLATION_VARIANTS and ablation.reference_variant == "none"
    grid = get_named_study("aug_mix_grid").plan("/tmp/not-created")
    assert grid.axes == {"aug_p": [0.0, 0.03, 0.06], "mix_p": [0.0, 0.01, 0.03]} and grid.reference_variant == "aug_p=0.0, mix_p=0.0"
    dropout = get_named_study("dropout").plan("/tmp/not-created")
    assert [v.name for v in dropout.variants] == ["dropout=0.0", "dropout=0.1", "dropout=0.2", "dropout=0.4"]
    assert dropout.base.model == "simple_cnn" and dropout.base.augment_ops == []
    for study in (ablation, grid, dropout):
        assert study.seeds == [0, 1, 2] and study.base.split_seed == 0 and study.base.limit == 5000
        assert study.base.budget_minutes is None  # fixed epochs: results never depend on the machine's speed
    with pytest.raises(ConfigError, match="Unknown study 'nope'; choose one of lesson, ablation, aug_mix_grid, dropout."):
        get_named_study("nope")


@pytest.mark.parametrize("name", [name for name in NAMED_STUDIES if name != "lesson"])  # the lesson's 5 min: test_study_lesson
def test_each_named_study_fits_in_30_minutes_on_the_quiet_cpu(name):
    named = get_named_study(name)
    speed = QUIET_CPU[named.config().model]
    estimate = named.estimate(Throughput(speed, 3 * speed, "README"))
    assert 8 <= estimate.minutes <= 30, estimate.describe()


def test_list_prints_every_named_study_with_an_estimate(capsys):
    with single_thread():
        assert main(["study", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed] == list(NAMED_STUDIES)
    for row in listed:
        assert set(row) == {"name", "description", "estimate_minutes"} and row["description"] == NAMED_STUDIES[row["name"]].description
        assert row["estimate_minutes"] > 0


def test_a_named_study_refuses_flags_that_change_its_recipe(tmp_path, capsys):
    assert main(["study", "--study", "dropout", "--preset", "fast", *TINY, "--runs-root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: A named study brings its own recipe; --preset cannot change it (the other train flags can)."
    )
    assert main(["study", "--study", "nope", *TINY, "--runs-root", str(tmp_path)]) == 2


# CI runs the lesson and the ablation (the two a class meets first); --runslow every named study
IN_CI = ("lesson", "ablation")


@pytest.mark.parametrize("name", [pytest.param(name, marks=() if name in IN_CI else pytest.mark.slow) for name in NAMED_STUDIES])
def test_each_named_study_runs_end_to_end_at_a_tiny_size(name, tmp_path, capsys):
    with single_thread():
        code = main(["study", "--study", name, *TINY, "--runs-root", str(tmp_path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["state"] == "finished"
    [folder] = list_studies(tmp_path)
    study = folder.study()
    assert study.name == name and study.seeds == [0, 1] and study.base.epochs == 1 and study.base.limit == 200
    runs = pd.read_csv(folder.run_results_path)
    variants = [v.name for v in get_named_study(name).plan("/tmp/not-created").variants]
    assert sorted(zip(runs["variant"], runs["seed"])) == sorted((v, s) for v in variants for s in (0, 1))
    assert runs["final_val_acc"].between(0, 1).all() and runs["final_train_acc"].between(0, 1).all()
    table = pd.read_csv(folder.results_path)
    assert table["variant"].tolist() == variants
    # a 95% t-interval over the two seeds for every variant, and a paired difference for all but the reference
    assert table["final_val_acc_ci95"].map(math.isfinite).all()
    others = table[table["variant"] != study.reference_variant]
    assert (others["paired_seeds"] == 2).all() and others["val_acc_diff_ci95"].map(math.isfinite).all()
    assert len(report["sentences"]) == len(variants) and report["conclusion"]
