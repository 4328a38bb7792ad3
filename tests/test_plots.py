"""Figures and tables built from run events and confusion counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cifar_core.figures.runs import (
    CLICK_LAYER,
    class_balance_figure,
    confusion_cell,
    confusion_figure,
    curves_figure,
    epoch_frame,
    normalize_rows,
    per_class_frame,
    probability_figure,
    step_frame,
)
from cifar_core.figures.studies import grid_heatmap_figure, variant_bars_figure

CLASSES = ("cat", "dog", "frog")


def epoch_event(epoch, train_loss, val_acc):
    return {"type": "epoch", "epoch": epoch, "train_loss": train_loss, "train_acc": 0.5, "val_loss": 1.0, "val_acc": val_acc}


def step_event(epoch, step, loss):
    return {"type": "step", "epoch": epoch, "step": step, "steps_per_epoch": 4, "train_loss": loss}


def test_epoch_frame_keeps_the_latest_value_of_an_epoch_repeated_by_a_resume():
    events = [{"type": "launch"}, epoch_event(1, 2.0, 0.3), epoch_event(2, 1.5, 0.4), {"type": "resume"}, epoch_event(2, 1.4, 0.45)]
    frame = epoch_frame(events)
    assert frame["epoch"].tolist() == [1, 2]
    assert frame["val_acc"].tolist() == [0.3, 0.45]


def test_a_budget_cut_last_epoch_is_drawn_at_its_fraction():
    events = [epoch_event(1, 2.0, 0.3), {**epoch_event(2, 1.5, 0.4), "epoch_fraction": 0.42}]
    assert epoch_frame(events)["x"].tolist() == [1.0, 1.42]
    figure = curves_figure({"run": events})
    assert list(figure.data[0].x) == [1.0, 1.42]


def test_epoch_frame_of_a_run_without_validation_has_empty_val_columns():
    event = epoch_event(1, 2.0, None)
    event["val_loss"] = None
    frame = epoch_frame([event])
    assert frame["val_acc"].isna().all()
    figure = curves_figure({"run": [event]})
    assert [trace.name for trace in figure.data] == ["train loss", "train accuracy"]


def test_step_frame_places_steps_at_fractional_epochs():
    frame = step_frame([step_event(1, 2, 2.1), step_event(2, 4, 1.2)])
    assert frame["x"].tolist() == [0.5, 2.0]


def test_curves_for_one_run_show_train_and_validation_loss_and_accuracy():
    events = [step_event(1, 2, 2.2), epoch_event(1, 2.0, 0.3), epoch_event(2, 1.5, 0.4)]
    figure = curves_figure({"only": events})
    names = [trace.name for trace in figure.data]
    assert names == ["train loss (running)", "train loss", "validation loss", "train accuracy", "validation accuracy"]
    val_acc = figure.data[4]
    assert list(val_acc.x) == [1, 2] and list(val_acc.y) == [0.3, 0.4] and val_acc.line.dash == "dash"


def test_overlaid_runs_get_one_colour_each_and_their_label_in_the_legend():
    figure = curves_figure({"a": [epoch_event(1, 2.0, 0.3)], "b": [epoch_event(1, 1.0, 0.6)]}, show_steps=False)
    colours = {trace.name.split(" · ")[0]: trace.line.color for trace in figure.data}
    assert set(colours) == {"a", "b"} and colours["a"] != colours["b"]


def test_a_run_with_no_events_yet_gives_an_empty_figure_not_an_error():
    assert len(curves_figure({"new": []}).data) == 0


def test_row_normalised_confusion_rows_sum_to_one_and_empty_rows_stay_zero():
    counts = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    rates = normalize_rows(counts)
    assert np.allclose(rates[0], [0.8, 0.2, 0.0]) and np.allclose(rates[1], [0.25, 0.75, 0]) and (rates[2] == 0).all()


def test_confusion_heatmap_has_class_names_on_both_axes_and_values_in_cells():
    counts = torch.tensor([[8, 2, 0], [1, 3, 0], [0, 0, 5]])
    figure = confusion_figure(counts, CLASSES)
    heat = figure.data[0]
    assert list(heat.x) == list(CLASSES) and list(heat.y) == list(CLASSES)
    assert heat.text[0][1] == "2" and heat.text[0][2] == ""  # zeros stay blank
    assert figure.layout.xaxis.title.text == "predicted class" and figure.layout.yaxis.title.text == "true class"
    normalised = confusion_figure(counts, CLASSES, normalize=True).data[0]
    assert normalised.text[0][0] == "80%" and normalised.zmax == 1
    cells = confusion_figure(counts, CLASSES, normalize=True).data[1]
    assert [row[2] for row in cells.customdata][:3] == [8, 2, 0]  # hover still shows the count


def test_a_confusion_chart_nobody_clicks_draws_only_the_heatmap_and_hovers_its_cells():
    """The live Train page's chart: no 100-marker click layer to redraw, the heatmap answers hovers itself."""
    counts = torch.tensor([[8, 2, 0], [1, 3, 0], [0, 0, 5]])
    live = confusion_figure(counts, CLASSES, normalize=True, clickable=False)
    assert [trace.type for trace in live.data] == ["heatmap"]
    assert live.data[0].hoverinfo is None and "%{text}" in live.data[0].hovertemplate
    assert live.data[0].text == confusion_figure(counts, CLASSES, normalize=True).data[0].text
    assert confusion_figure(counts, CLASSES).data[0].hoverinfo == "skip"


def test_every_clickable_cell_maps_back_to_its_own_true_and_predicted_class():
    counts = torch.tensor([[8, 2, 0], [1, 3, 0], [0, 0, 5]])
    figure = confusion_figure(counts, CLASSES)
    cells = figure.data[1]
    assert cells.name == CLICK_LAYER and figure.layout.clickmode == "event+select"
    assert len(cells.x) == 9
    for number, (x, y, data) in enumerate(zip(cells.x, cells.y, cells.customdata)):
        # what st.plotly_chart(on_select="rerun") reports for a click on that cell
        selection = {"points": [{"curve_number": 1, "point_number": number, "point_index": number, "x": x, "y": y}]}
        true, predicted = confusion_cell(selection, CLASSES)
        assert (true, predicted) == (data[0], data[1]) == divmod(number, 3)
        assert (CLASSES[true], CLASSES[predicted]) == (y, x) and counts[true, predicted] == data[2]


def test_no_click_several_points_or_foreign_points_are_no_cell():
    assert confusion_cell(None, CLASSES) is None
    assert confusion_cell({"points": [], "box": [], "lasso": []}, CLASSES) is None
    two = [{"x": "cat", "y": "dog"}, {"x": "dog", "y": "cat"}]
    assert confusion_cell({"points": two}, CLASSES) is None
    assert confusion_cell({"points": [{"x": "airplane", "y": "dog"}]}, CLASSES) is None
    assert confusion_cell({"points": [{"x": "frog", "y": "dog"}]}, CLASSES) == (1, 2)


def test_class_balance_has_one_bar_group_per_split():
    figure = class_balance_figure({"train": {"cat": 5, "dog": 5}, "test": {"cat": 1, "dog": 2}, "empty": {}})
    assert [trace.name for trace in figure.data] == ["train", "test"]
    assert list(figure.data[1].y) == [1, 2]


def test_per_class_frame_has_one_row_per_class_in_order():
    frame = per_class_frame({name: {"precision": 0.5, "recall": 0.25, "f1": 0.33, "support": 4} for name in CLASSES})
    assert frame["class"].tolist() == list(CLASSES)
    assert frame.columns.tolist() == ["class", "precision", "recall", "f1", "support"]
    assert frame["support"].dtype.kind == "i"


def test_probability_bars_put_the_largest_on_top_with_percent_labels():
    figure = probability_figure({"cat": 0.7, "dog": 0.2, "frog": 0.1})
    bar = figure.data[0]
    assert list(bar.y) == ["frog", "dog", "cat"]  # plotly draws the last bar on top
    assert list(bar.text) == ["10%", "20%", "70%"]


def test_study_bars_and_grid_cells_write_percent_with_one_decimal_and_name_the_sd():
    variants = pd.DataFrame(
        {
            "variant": ["none", "flip"],
            "final_val_acc_mean": [0.451, 0.5],
            "final_val_acc_std": [0.029, float("nan")],
            "acc_gap_mean": [0.032, 0.01],
            "acc_gap_std": [0.01, float("nan")],
            "lr": [0.1, 0.1],
            "dropout": [0.0, 0.3],
        }
    )
    bars = variant_bars_figure(variants)
    assert list(bars.data[0].text) == ["45.1 ± 2.9%", "50.0%"]  # one seed: no spread to show
    assert list(bars.data[1].text) == ["3.2 ± 1.0 points", "1.0 points"]
    assert [a.text for a in bars.layout.annotations] == [
        "Validation accuracy (final epoch), mean ± sd",
        "Gap: train − validation acc, mean ± sd",
    ]
    cells = grid_heatmap_figure(variants, "dropout", "lr").data[0]
    assert [list(row) for row in cells.text] == [["45.1 ± 2.9%", "50.0%"]]
    assert "mean ± sd" in cells.hovertemplate
