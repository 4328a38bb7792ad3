"""Evaluate page: scores, per-class table, confusion heatmap, cell galleries, uploads."""

from __future__ import annotations

import io

import numpy as np
from app_support import assert_ok, charts, errors, metrics, open_app, page_text, tiny_config
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, split_images
from cifar_core.runs import RunStore


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def reference(run, split: str, tta: str = "none"):
    loaded = load_run_model(run, "best")
    return evaluate(loaded, *split_images(loaded.config, load_cifar("synthetic"), split), tta=tta)


def gallery(at) -> list[str]:
    return [element.captions[0] for element in at.image if "%" in element.captions[0]]


def test_no_run_is_explained(app_env):
    at = open_app("evaluate")
    assert "No run selected" in page_text(at)


def test_scores_table_and_confusion_match_the_library(trained_run):
    at = open_app("evaluate")
    expected = reference(trained_run, "val")
    assert metrics(at) == {"Accuracy": f"{expected.accuracy:.1%}", "Loss": f"{expected.loss:.3f}", "Images": f"{expected.n:,}"}
    table = at.dataframe[0].value
    assert table["class"].tolist() == list(CIFAR10_CLASSES) and table["support"].sum() == expected.n
    heat = charts(at)[0]["data"][0]
    assert heat["x"] == list(CIFAR10_CLASSES) and [[int(cell or 0) for cell in row] for row in heat["text"]] == expected.confusion.tolist()
    at.toggle(key="evaluate_normalize").set_value(True).run()
    assert all(cell.endswith("%") for row in charts(at)[0]["data"][0]["text"] for cell in row if cell)


def test_test_time_augmentation_rescores_the_split_like_the_library(trained_run):
    at = open_app("evaluate")
    at.radio(key="evaluate_tta").set_value("flip_shift").run()
    assert_ok(at)
    expected = reference(trained_run, "val", tta="flip_shift")
    assert metrics(at)["Loss"] == f"{expected.loss:.3f}" and metrics(at)["Accuracy"] == f"{expected.accuracy:.1%}"
    assert expected.loss != reference(trained_run, "val").loss


def test_a_confusion_cell_shows_exactly_its_misclassified_images_with_top3(trained_run):
    at = open_app("evaluate")
    expected = reference(trained_run, "val")
    top = most_confused_pairs(expected.confusion, expected.classes)[0]
    true_class, predicted = CIFAR10_CLASSES.index(top["true"]), CIFAR10_CLASSES.index(top["predicted"])
    # the page opens on the most confused pair
    assert at.selectbox(key="evaluate_true").value == true_class and at.selectbox(key="evaluate_pred").value == predicted
    shown, count = gallery(at), int(expected.confusion[true_class, predicted])
    assert len(shown) == min(count, 24) > 0
    assert f"**{count}** {top['true']} images the model called *{top['predicted']}*" in page_text(at)
    assert all(caption.count("%") == 3 and caption.startswith(f"{top['predicted']} ") for caption in shown)
    assert f"1. **{top['true']}** taken for **{top['predicted']}**: {top['count']} images" in page_text(at)
    at.selectbox(key="evaluate_pred").set_value(true_class).run()
    assert gallery(at) == [] and "diagonal cell" in page_text(at)


def test_the_test_split_is_offered_when_the_source_has_labelled_test_images(trained_run):
    at = open_app("evaluate")
    at.radio(key="evaluate_split_vt").set_value("test").run()
    assert_ok(at)
    assert metrics(at)["Images"] == "200"
    assert "test split of the SYNTHETIC demo set" in page_text(at)


def test_an_uploaded_photo_is_predicted_and_shown_as_the_model_sees_it(trained_run):
    at = open_app("evaluate")
    at.file_uploader(key="evaluate_upload").set_value(("photo.png", png(300, 200), "image/png")).run()
    assert_ok(at)
    assert metrics(at)["Prediction"] in CIFAR10_CLASSES
    seen = [element for element in at.image if element.captions[0].startswith("What the model sees")]
    assert seen and "300×200 PNG" in seen[0].captions[0]
    probabilities = charts(at)[-1]["data"][0]
    assert sorted(probabilities["y"]) == sorted(CIFAR10_CLASSES) and abs(sum(probabilities["x"]) - 1) < 1e-4


def test_a_non_image_upload_is_an_error_message(trained_run):
    at = open_app("evaluate")
    at.file_uploader(key="evaluate_upload").set_value(("cat.jpg", b"%PDF-1.4 definitely not a jpeg", "image/jpeg")).run()
    assert_ok(at)
    assert any("cat.jpg is not an image this app can read" in error for error in errors(at))


def test_a_run_without_a_checkpoint_says_so(trained_run):
    RunStore().create(tiny_config(), "zz-empty")
    at = open_app("evaluate")
    at.sidebar.selectbox(key="selected_run").set_value("zz-empty").run()
    assert_ok(at)
    assert any("has no best.pt yet" in error for error in errors(at))
