"""Study results: per-run numbers straight from the run folders, mean ± std per variant, partial
studies, atomic CSVs, and the study folder surviving a fresh read (an app restart)."""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd
import pytest
from study_support import tiny_base, train_in_process

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.device import single_thread
from cifar_core.figures.studies import grid_heatmap_figure, variant_bars_figure, variant_curves_figure
from cifar_core.runs import RunStore
from cifar_core.runs.health import chance_warning
from cifar_core.study import StudyFolder, display_table, drive, list_studies, refresh_results, run_table, studies_root
from cifar_core.study.definition import plan_study
from cifar_core.study.results import markdown_table


def _final_epoch(store: RunStore, run_id: str) -> dict:
    return store.get(run_id).events("epoch")[-1]


def test_run_rows_are_the_runs_own_final_and_best_epochs(finished_study):
    study = finished_study.study()
    store = RunStore(study.runs_root)
    runs = run_table(study)
    assert list(runs["state"]) == ["finished"] * 8 and list(runs["epochs_done"]) == [2] * 8
    for row in runs.itertuples():
        epochs = store.get(row.run_id).events("epoch")
        last, best = epochs[-1], max(epochs, key=lambda e: e["val_acc"])
        assert row.final_val_acc == last["val_acc"] and row.best_val_acc == best["val_acc"]
        assert row.acc_gap == pytest.approx(last["train_acc"] - last["val_acc"])
        assert row.loss_gap == pytest.approx(last["val_loss"] - last["train_loss"])
        assert row.best_val_loss == min(e["val_loss"] for e in epochs)
        assert row.epochs_to_best == best["epoch"]
        status = store.get(row.run_id).raw_status()
        assert row.wall_s == pytest.approx(status["ended"] - status["started"])
        assert 0 <= row.final_val_acc <= 1 and math.isfinite(row.final_val_loss)


def test_variant_rows_are_mean_and_sample_std_over_seeds(finished_study):
    study = finished_study.study()
    store = RunStore(study.runs_root)
    variants = refresh_results(finished_study)
    assert list(variants["variant"]) == [v.name for v in study.variants]
    assert list(variants[["dropout", "lr"]].itertuples(index=False, name=None)) == [(0.0, 0.001), (0.0, 0.003), (0.3, 0.001), (0.3, 0.003)]
    for row in variants.itertuples():
        ids = [p.run_id for p in study.runs if p.variant == row.variant]
        accs = [_final_epoch(store, run_id)["val_acc"] for run_id in ids]
        gaps = [_final_epoch(store, run_id)["train_acc"] - _final_epoch(store, run_id)["val_acc"] for run_id in ids]
        assert (row.runs_finished, row.runs_planned) == (2, 2)
        assert row.final_val_acc_mean == pytest.approx(statistics.mean(accs))
        assert row.final_val_acc_std == pytest.approx(statistics.stdev(accs))
        assert row.acc_gap_mean == pytest.approx(statistics.mean(gaps))
    on_disk = pd.read_csv(finished_study.results_path)
    assert len(on_disk) == 4 and on_disk["final_val_acc_mean"].tolist() == pytest.approx(variants["final_val_acc_mean"].tolist())
    assert len(pd.read_csv(finished_study.run_results_path)) == 8
    assert not list(finished_study.dir.glob(".*.tmp"))  # atomic writes leave no temp files


def test_the_study_reads_back_from_disk_alone_and_the_run_store_ignores_its_folder(finished_study):
    root = finished_study.study().runs_root
    again = list_studies(root)
    assert [folder.dir for folder in again] == [finished_study.dir]
    assert again[0].study().to_dict() == json.loads(finished_study.study_path.read_text())
    assert again[0].status()["state"] == "finished"
    assert len(RunStore(root).list()) == 8  # studies/ is not a run


def test_a_partly_finished_study_shows_what_has_finished(tmp_path):
    study = plan_study(tiny_base(epochs=1), tmp_path, ablate=["rotation", "cutmix"], seeds=2)
    folder = StudyFolder.create(studies_root(tmp_path) / study.id, study)
    assert refresh_results(folder)["runs_finished"].tolist() == [0, 0, 0, 0]
    assert set(run_table(study)["state"]) == {"waiting"}

    def only_none_seed_0(run, resume):
        if run.id.endswith("-00-none-s5"):
            train_in_process(run, resume)
        else:
            folder.request_cancel()  # stop the study after the first run

    with single_thread():
        assert drive(folder, only_none_seed_0) == "cancelled"
    runs = run_table(study)
    assert runs["state"].tolist()[:2] == ["finished", "interrupted"] and set(runs["state"][2:]) == {"waiting"}
    variants = pd.read_csv(folder.results_path)
    assert variants["runs_finished"].tolist() == [1, 0, 0, 0]
    assert 0 <= variants["final_val_acc_mean"][0] <= 1 and math.isnan(variants["final_val_acc_std"][0])
    table = display_table(variants)
    assert table["runs"].tolist() == ["1/2", "0/2", "0/2", "0/2"] and table["val acc (final)"][1] == "-"
    assert "± " not in table["val acc (final)"][0]  # one seed: no spread to show


def _finished_with_accuracies(store: RunStore, study, planned, accuracies: list[float]) -> None:
    """A finished run folder whose epochs reached exactly ``accuracies`` (a real training run cannot be steered to them)."""
    run = store.create(study.config_for(planned), planned.run_id)
    for epoch, acc in enumerate(accuracies, start=1):
        run.append_event({"type": "epoch", "epoch": epoch, "val_acc": acc, "val_loss": 2.3, "train_acc": acc, "train_loss": 2.3})
    run.update_status(state="finished", started=1.0, ended=2.0)


def test_the_results_table_gives_the_same_chance_verdict_as_the_runs_pages(tmp_path):
    study = plan_study(tiny_base(epochs=2), tmp_path, grid="dropout=0,0.3", seeds=1)
    store = RunStore(tmp_path)
    # Each run is judged differently by "best epoch within 5 points" and "last epoch within 2 points":
    # the first learned and then fell back to chance, the second crept just above chance.
    _finished_with_accuracies(store, study, study.runs[0], [0.30, 0.11])
    _finished_with_accuracies(store, study, study.runs[1], [0.13, 0.14])
    runs = run_table(study)
    for row in runs.itertuples():
        pages = chance_warning(store.get(row.run_id).events("epoch"), len(CIFAR10_CLASSES), finished=True)
        assert (row.chance_warning if isinstance(row.chance_warning, str) else None) == pages
    assert "fell back to 11.0%" in runs["chance_warning"][0] and not isinstance(runs["chance_warning"][1], str)


def test_display_and_markdown_tables_show_mean_plus_minus_std(finished_study):
    table = display_table(refresh_results(finished_study))
    assert table.columns[:3].tolist() == ["variant", "runs", "val acc (final)"]
    assert all(" ± " in cell for cell in table["val acc (final)"])
    markdown = markdown_table(table).splitlines()
    assert markdown[0].startswith("| variant | runs |") and markdown[1].startswith("|---|") and len(markdown) == 6


def test_figures_have_a_bar_per_variant_with_error_bars_a_panel_per_variant_and_a_grid_heatmap(finished_study):
    study = finished_study.study()
    store = RunStore(study.runs_root)
    runs, variants = run_table(study), refresh_results(finished_study)
    bars = variant_bars_figure(variants, runs)
    accuracy = bars.data[0]
    assert list(accuracy.y) == [v.name for v in study.variants]
    assert list(accuracy.error_x.array) == pytest.approx(variants["final_val_acc_std"].tolist())
    assert len(bars.data[1].y) == 8  # one dot per seed
    curves = {v.name: [store.get(p.run_id).events() for p in study.runs if p.variant == v.name] for v in study.variants}
    small = variant_curves_figure(curves)
    assert [a.text for a in small.layout.annotations] == [v.name for v in study.variants]
    heatmap = grid_heatmap_figure(variants, "dropout", "lr").data[0]
    assert (list(heatmap.x), list(heatmap.y)) == (["0.0", "0.3"], ["0.001", "0.003"])
    assert heatmap.z[0][1] == pytest.approx(variants["final_val_acc_mean"][2])  # lr 0.001, dropout 0.3
