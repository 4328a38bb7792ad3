"""The Experiments page: a study set up from the Train settings with its time estimate, refused
over budget, launched and cancelled, and a finished study's table and figures."""

from __future__ import annotations

import json
import re

import pytest
from app_support import assert_ok, button, errors, metrics, navigate, open_app, page_text
from support import wait_for

from cifar_core.runs import RunStore
from cifar_core.runs.procfolder import ACTIVE_STATES
from cifar_core.study import Throughput, list_studies
from cifar_core.train.presets import PRESETS

# Train page settings that make the speed probe and any launched run quick.
SMALL_TRAIN = {
    "train_preset": "custom",
    "train_epochs": 1,
    "train_batch_size": 16,
    "train_use_limit": True,
    "train_limit": 200,
    "train_seed": 3,
}


def test_page_explains_ablations_and_seeds_and_estimates_the_study_from_the_train_settings(app_env):
    at = open_app("experiments", session=SMALL_TRAIN)
    text = page_text(at)
    assert "Why more than one seed?" in text and "all but X" in text
    assert "Base run (from the Train page): **simple_cnn**, 1 epoch(s), 200 images, batch 16" in text
    [base] = [caption for caption in at.caption if caption.value.startswith("Base run")]
    assert "schedule: the learning rate" in base.proto.help and "label smoothing" in base.proto.help.lower()
    assert "**10 variant(s) × 2 seed(s):**" in text and "`all but cutmix`" in text
    assert metrics(at)["Estimated time"].endswith(" min")
    assert "Estimate: about " in text and "for 20 run(s)" in text
    assert re.search(r"timed 3 training steps of (\d+ images of )?simple_cnn now", text)  # fewer images when a step would take over 1 s
    assert not errors(at) and not button(at, "Start study").disabled
    assert "No studies yet" in text


def test_a_study_over_budget_is_refused_with_its_estimate(app_env):
    at = open_app("experiments", session={**SMALL_TRAIN, "train_use_limit": False, "train_epochs": 500})
    refusal = [error for error in errors(at) if error.startswith("The study would take about ")]
    assert refusal and "over the 30 min budget" in refusal[0]
    assert button(at, "Start study").disabled


def test_a_grid_typo_is_reported_and_nothing_can_start(app_env):
    at = open_app("experiments", session={**SMALL_TRAIN, "experiments_kind": "Grid of settings", "experiments_grid": "aug_p=0.1;aug_p=0.2"})
    assert "Field aug_p appears twice in the grid; list all its values once: aug_p=a,b,c." in errors(at)
    assert not [b for b in at.button if b.label.startswith("Start study")]


def test_starting_shows_the_study_live_and_cancel_stops_it(app_env):
    at = open_app("experiments", session={**SMALL_TRAIN, "experiments_ops": ["translate"], "experiments_seeds": 1})
    button(at, "Start study").click().run()
    assert_ok(at)
    [folder] = list_studies(app_env / "runs")
    assert at.query_params["study"] == folder.dir.name
    assert f"### `{folder.dir.name}` · " in page_text(at)
    button(at, "Cancel study").click().run()
    wait_for(lambda: folder.status()["state"] not in ACTIVE_STATES, timeout=120, interval=0.5, what="the study ending")
    assert folder.status()["state"] == "cancelled" and folder.cancel_requested()


def test_a_finished_study_shows_its_table_bars_heatmap_and_curves(app_env, finished_study, monkeypatch):
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(finished_study.study().runs_root))
    at = open_app("experiments", {"study": finished_study.dir.name}, session=SMALL_TRAIN)
    text = page_text(at)
    assert f"### `{finished_study.dir.name}` · finished" in text
    [progress] = at.get("progress")
    assert "8 of 8 runs finished" in progress.proto.text
    [results] = [frame.value for frame in at.dataframe if "runs" in frame.value.columns]
    assert results["variant"].tolist() == [
        "dropout=0.0, lr=0.001",
        "dropout=0.0, lr=0.003",
        "dropout=0.3, lr=0.001",
        "dropout=0.3, lr=0.003",
    ]
    assert results["runs"].tolist() == ["2/2"] * 4 and all(cell.endswith("%") and " ± " in cell for cell in results["val acc (final) ± sd"])
    means = [float(cell.split(" ± ")[0]) for cell in results["val acc (final) ± sd"]]
    assert all(0 <= mean <= 100 for mean in means) and max(means) > 1  # in %
    assert [mark == "⚠ at chance" for mark in results["learned?"]] == [mean <= 12 for mean in means]
    [yours] = [tab for tab in at.tabs if tab.label == "Your studies"]
    figures = [json.loads(element.proto.spec) for element in yours.get("plotly_chart")]
    kinds = [figure["data"][0]["type"] for figure in figures]
    # bars with error bars, the 2-D grid, small-multiple curves, gap-shaded curves, intervals with the over-fit panel
    assert kinds == ["bar", "heatmap", "scatter", "scatter", "bar"]
    assert figures[0]["data"][0]["error_x"]["visible"] is True
    # the bars write each variant's number as its table row does, and both say which ± it is
    assert figures[0]["data"][0]["text"] == results["val acc (final) ± sd"].tolist()
    assert "mean ± sd" in figures[0]["layout"]["annotations"][0]["text"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_train_and_experiments_build_the_same_config_from_every_recipe(app_env, monkeypatch, name):
    """A study's base run is the Train page's run, every field of it: optimizer, schedule, smoothing and model options included."""
    monkeypatch.setattr("cifar_core.runs.process.launch", lambda run, resume=False: 0)
    monkeypatch.setattr("cifar_core.study.launch_driver", lambda folder: None)
    monkeypatch.setattr(
        "cifar_core.ui.estimates.device_throughput", lambda store, config: Throughput(1000.0, 3000.0, "fixed for this test")
    )
    at = open_app("train")
    at.selectbox(key="train_preset").set_value(name).run()
    if PRESETS[name].config().model == "mobilenet_v3_large":
        at.radio(key="train_weights").set_value("No pretrained weights (random init)").run()  # offline here
    button(at, "Start training").click().run()
    [run] = RunStore().list()
    navigate(at, "experiments")
    at.session_state["experiments_budget"] = 1e6
    at.session_state["experiments_kind"] = "Grid of settings"  # an ablation of the fast recipes would trip over their translate parameters
    at.session_state["experiments_grid"] = "dropout=0,0.1"
    at.run()
    button(at, "Start study").click().run()
    [folder] = list_studies(app_env / "runs")
    base, launched = folder.study().base.to_dict(), run.config().to_dict()
    differing = {field: (launched[field], base[field]) for field in launched if launched[field] != base[field]}
    assert differing == {"split_seed": (None, launched["seed"])}  # a study fixes one split for all its seeds, nothing else differs


def test_the_classroom_base_opens_on_the_ops_it_applies_without_an_error(app_env):
    # classroom trains with flip and shifts at aug_p 0.5 and no CutMix (mix_p 0): an ablation of CutMix would
    # compare identical runs, so it is not pre-selected, and a teacher opening the page sees no red refusal
    at = open_app("experiments")
    assert at.session_state["train_preset"] == "classroom"
    [ops] = [box for box in at.multiselect if box.label == "Augmentations to ablate"]
    assert ops.value == ["rotation", "resized_crop", "translate"]
    assert not errors(at)
    ops.set_value(["translate", "cutmix"]).run()
    assert [e for e in errors(at) if "cutmix (mix_p is 0) never applies" in e]


def test_the_lesson_table_wraps_its_verdicts_and_the_ablation_chips_wrap(app_env):
    # a grid of fixed pixel widths (about 720 px) cut the verdict off in the results column at 1,366-1,400 px
    # windows; a static table wraps each cell to the column instead, and the chips wrap onto more rows
    at = open_app("experiments")
    [published] = [tab for tab in at.tabs if tab.label == "Published studies"]
    [table] = published.table
    frame = table.value
    assert list(frame.columns) == ["variant", "seeds", "val acc ± 95% CI", "vs reference, points ± 95% CI", "verdict"]
    assert "reference" in frame["verdict"].tolist() and frame["vs reference, points ± 95% CI"].str.contains(" ± ").any()
    assert not published.dataframe or all("verdict" not in grid.value.columns for grid in published.dataframe)
    [ops] = [box for box in at.multiselect if box.label == "Augmentations to ablate"]
    assert ops.proto.wrap is True
