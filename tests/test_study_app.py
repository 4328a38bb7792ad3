"""The Experiments page's study pieces: the named-study picker (start a quick look, cancel it), a
finished named study's computed conclusion and teaching figures, and the published studies."""

from __future__ import annotations

import json

import pytest
from app_support import assert_ok, button, open_app, page_text
from streamlit.testing.v1 import AppTest
from support import wait_for

from cifar_core.runs.procfolder import ACTIVE_STATES
from cifar_core.study import list_studies, run_table
from cifar_core.study.catalog import get_named_study
from cifar_core.study.published import grid_cells, grid_spread, list_published
from cifar_core.study.stats import compare_variants, conclusion


def tab(at: AppTest, label: str):
    [found] = [element for element in at.tabs if element.label == label]
    return found


def figure_types(container) -> list[str]:
    return [json.loads(element.proto.spec)["data"][0]["type"] for element in container.get("plotly_chart")]


def test_the_picker_starts_a_quick_look_named_study_from_the_page_and_cancel_stops_it(app_env):
    at = open_app("experiments", session={"experiments_named": "dropout", "experiments_named_size": "quick look (2 epochs, 500 images)"})
    text = page_text(at)
    assert get_named_study("dropout").description in text
    assert "4 variants × 3 seeds, compared with `dropout=0.0`; about " in text
    button(at, "Start dropout (about ").click().run()
    assert_ok(at)
    [folder] = list_studies(app_env / "runs")
    study = folder.study()
    assert (study.name, study.base.epochs, study.base.limit, study.seeds) == ("dropout", 2, 500, [0, 1, 2])
    assert at.query_params["study"] == folder.dir.name
    button(at, "Cancel study").click().run()
    wait_for(lambda: folder.status()["state"] not in ACTIVE_STATES, timeout=120, interval=0.5, what="the study ending")
    assert folder.status()["state"] == "cancelled"


def test_a_finished_named_study_states_its_computed_conclusion_and_teaching_figures(app_env, finished_named, monkeypatch):
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(finished_named.study().runs_root))
    at = open_app("experiments", {"study": finished_named.dir.name})
    study = finished_named.study()
    comparisons = compare_variants(run_table(study), "dropout=0.0", variants=[v.name for v in study.variants])
    text = page_text(at)
    assert f"**{conclusion(comparisons)}**" in text
    for comparison in comparisons[1:]:
        assert f"- {comparison.sentence()}" in text
    # per-seed curves, the gap-shaded mean curves, then validation accuracy beside the over-fit panel
    assert figure_types(tab(at, "Your studies"))[-3:] == ["scatter", "scatter", "bar"]


def test_the_published_studies_open_instantly_each_told_apart_with_its_conclusion(app_env):
    published = list_published()
    if not published:
        pytest.skip("no study is published in this copy")
    at = open_app("experiments")
    [picker] = [box for box in tab(at, "Published studies").selectbox if box.label == "Published study"]
    # one named study may be published twice (CPU and GPU ablations): folder, size and device tell them apart
    assert picker.options == [study.label for study in published] and len(set(picker.options)) == len(published)
    for study in published:
        [picker] = [box for box in tab(at, "Published studies").selectbox if box.label == "Published study"]
        picker.set_value(study.dir.name).run()
        assert_ok(at)
        viewer = tab(at, "Published studies")
        comparisons = compare_variants(study.runs, study.reference, variants=study.variants)
        text = "\n".join(str(element.value) for element in viewer.markdown)
        assert f"**{conclusion(comparisons)}**" in text
        assert f"**This copy:** {study.size.split(' images')[0]} images ({study.split})" in text and f"on {study.device}." in text
        grid = study.definition["kind"] == "grid" and len(study.definition["axes"]) == 2  # the dropout sweep has one axis
        # (the grid's heatmap), the gap-shaded curves, validation accuracy beside the over-fit panel
        assert figure_types(viewer) == (["heatmap"] if grid else []) + ["scatter", "bar"]
        if grid:  # the colours' spread in points, beside the cells' intervals, so a full colour scale is not read as a finding
            frame = grid_cells(study.definition, study.runs)[0]
            assert grid_spread(frame) in [c.value for c in viewer.caption]
        [caption] = [c.value for c in viewer.caption if c.value.startswith(f"{len(study.runs)} of ")]
        assert study.device in caption and [code.value for code in viewer.code] == [study.command]
