"""Evaluate page: scores, per-class table, confusion heatmap, cell galleries, uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from app_support import (
    APP,
    assert_ok,
    button,
    charts,
    deltas_sent_at_scoring,
    errors,
    metrics,
    open_app,
    page_text,
    record_deltas,
    written_over,
)
from data_fixtures import png_bytes, write_image_folder
from PIL import Image
from support import standing_in, tiny_config

from cifar_core.app.uploads import MAX_UPLOAD_BYTES
from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, predict_unlabelled, source_split_images, split_images
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
    right = int(expected.confusion[true_class, true_class])
    assert len(gallery(at)) == min(right, 24)
    assert all(caption.startswith(f"{top['true']} ") for caption in gallery(at))  # a diagonal cell: its correct images
    if right:
        assert f"**{right}** {top['true']} images the model got right" in page_text(at)


def test_the_test_split_is_offered_when_the_source_has_labelled_test_images(trained_run):
    at = open_app("evaluate")
    at.selectbox(key="evaluate_images").set_value(("__run__", "test")).run()
    assert_ok(at)
    assert metrics(at)["Images"] == "200"
    assert "test images of the SYNTHETIC demo set" in page_text(at)


def test_an_uploaded_photo_is_predicted_and_shown_as_the_model_sees_it(trained_run):
    at = open_app("evaluate")
    at.file_uploader(key="evaluate_upload").set_value(("photo.png", png(300, 200), "image/png")).run()
    assert_ok(at)
    assert metrics(at)["Prediction"] in CIFAR10_CLASSES
    [prediction] = [element for element in at.metric if element.label == "Prediction"]
    assert prediction.proto.delta == ""  # no arrow: the confidence is not a change
    probabilities = charts(at)[-1]["data"][0]
    sure = f"{max(probabilities['x']):.0%} sure (chance is 10%: a guess among 10 classes)"
    assert sure in [caption.value for caption in at.caption]
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
    at.sidebar.selectbox(key="sidebar_run").set_value("zz-empty").run()
    assert_ok(at)
    assert any("has no best.pt yet" in error for error in errors(at))


@pytest.fixture
def separate_test_set(app_env):
    """``data/held-out/test/<class>/*.png``: the synthetic set's 200 test images as a separate, test-only source."""
    test = load_cifar("synthetic").splits["test"]
    return write_image_folder(app_env / "data" / "held-out", {"test": (test.images.numpy(), test.labels.numpy())})


def load_on_dataset_page(at, path) -> None:
    at.switch_page("app_pages/dataset.py").run()
    at.text_input(key="dataset_path").input(str(path)).run()
    button(at, "Load this path").click().run()
    assert_ok(at)
    at.switch_page("app_pages/evaluate.py").run()
    assert_ok(at)


def test_a_separate_labelled_test_set_loaded_on_the_dataset_page_is_scored(trained_run, separate_test_set):
    at = open_app("evaluate")
    assert at.selectbox(key="evaluate_images").value == ("__run__", "val")  # the run's own validation images by default
    load_on_dataset_page(at, separate_test_set)
    assert "The 200 test images of “held-out”" in at.selectbox(key="evaluate_images").options
    at.selectbox(key="evaluate_images").set_value((str(separate_test_set), "test")).run()
    assert_ok(at)
    loaded = load_run_model(trained_run, "best")
    expected = evaluate(loaded, *source_split_images(load_cifar(separate_test_set), "test"))
    assert metrics(at) == {"Accuracy": f"{expected.accuracy:.1%}", "Loss": f"{expected.loss:.3f}", "Images": "200"}
    assert f"test images of `{separate_test_set}`" in page_text(at)
    assert "no labelled test split" not in page_text(at)
    heat = charts(at)[0]["data"][0]
    assert [[int(cell or 0) for cell in row] for row in heat["text"]] == expected.confusion.tolist()


def test_a_separate_test_set_typed_on_the_evaluate_page_is_checked_and_scored(trained_run, separate_test_set):
    at = open_app("evaluate")
    at.text_input(key="evaluate_path").input("/etc").run()
    button(at, "Use this set").click().run()
    assert any("outside the folders this app may read from" in error for error in errors(at))
    at.text_input(key="evaluate_path").input("held-out").run()
    button(at, "Use this set").click().run()
    at.selectbox(key="evaluate_images").set_value((str(separate_test_set), "test")).run()
    assert_ok(at)
    assert metrics(at)["Images"] == "200"


def test_images_without_labels_are_predicted_into_a_submission_csv(trained_run, app_env):
    folder = app_env / "data" / "to-predict"
    folder.mkdir()
    images = load_cifar("synthetic").splits["test"].images[:30]
    for index, image in enumerate(images, start=1):
        (folder / f"{index}.png").write_bytes(png_bytes(image.numpy()))
    at = open_app("evaluate")
    at.text_input(key="evaluate_path").input(str(folder)).run()
    button(at, "Use this set").click().run()
    assert_ok(at)
    assert "“to-predict” has no labels, so it cannot be scored, only predicted." in page_text(at)
    button(at, "Predict every image").click().run()
    assert_ok(at)
    csv = at.session_state["_evaluate_predictions"][1].to_csv()
    expected = predict_unlabelled(load_run_model(trained_run, "best"), folder)
    assert csv == expected.to_csv() and csv.splitlines()[0] == "id,label" and len(csv.splitlines()) == 31
    assert [line.split(",")[0] for line in csv.splitlines()[1:]] == [str(index) for index in range(1, 31)]
    downloads = at.get("download_button")
    assert len(downloads) == 1 and "submission.csv (30 predictions)" in downloads[0].proto.label


def test_a_run_still_training_says_so_and_is_scored_only_when_asked(trained_run):
    with standing_in(trained_run) as me:  # this process stands in for the worker
        trained_run.update_status(state="running", **me)
        at = open_app("evaluate")
        assert_ok(at)
        assert f"Run {trained_run.id} is still training" in page_text(at)
        assert "Accuracy" not in metrics(at)
        at.toggle(key="evaluate_while_training").set_value(True).run()
        assert_ok(at)
        assert metrics(at)["Accuracy"] == f"{reference(trained_run, 'val').accuracy:.1%}"


@pytest.mark.skipif(not (APP.parent / "app_pages" / "explain.py").exists(), reason="the Explain page has not landed yet")
def test_explain_this_image_hands_the_image_to_the_explain_page(trained_run):
    at = open_app("evaluate")
    expected = reference(trained_run, "val")
    top = most_confused_pairs(expected.confusion, expected.classes)[0]
    first = expected.cell(CIFAR10_CLASSES.index(top["true"]), CIFAR10_CLASSES.index(top["predicted"]))[0]
    at.button(key=f"explain_{first['row']}").click().run()
    assert_ok(at)
    # the Explain page took the request (run, source split, index) and opened on that image
    assert "explain_request" not in at.session_state
    assert at.session_state["explain_index"] == first["index"]
    assert at.session_state["explain_view"] == "Saliency"


def test_an_upload_over_20_mb_is_refused_in_our_words_under_the_uploader_and_clears_the_old_prediction(trained_run):
    at = open_app("evaluate")
    uploader = at.file_uploader(key="evaluate_upload")
    uploader.set_value(("photo.png", png(300, 200), "image/png")).run()
    assert "Prediction" in metrics(at)
    too_big = png(64, 64) + bytes(MAX_UPLOAD_BYTES)  # a valid PNG start, just over the cap
    at.file_uploader(key="evaluate_upload").set_value(("huge.png", too_big, "image/png")).run()
    assert_ok(at)
    assert errors(at) == [f"huge.png is {len(too_big) / 1e6:.1f} MB; uploads are limited to 20 MB."]
    assert "Prediction" not in metrics(at)  # the earlier photo's prediction is gone
    assert not [element for element in at.image if element.captions[0].startswith("What the model sees")]


def test_every_uploader_gives_the_browser_the_apps_cap_and_the_server_lets_such_files_through(trained_run):
    """The browser refuses a file over the uploader's cap before sending it, in Streamlit's sentence
    naming that cap: it must be the app's 20 MB, the one the label states, not the server's 25 MB
    (a user told "20 MB" must never read "must be 25.0MB or smaller"). The server's own bound stays
    above it, so a file that reaches the page another way gets the app's sentence."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text())
    assert MAX_UPLOAD_BYTES < config["server"]["maxUploadSize"] * 1024 * 1024 <= 2 * MAX_UPLOAD_BYTES  # Streamlit's MB are MiB
    at = open_app("evaluate")
    caps = [at.file_uploader(key="evaluate_upload").proto.max_upload_size_mb]
    at.switch_page("app_pages/explain.py").run()
    at.radio(key="explain_from").set_value("an uploaded picture").run()
    assert_ok(at)
    caps.append(at.file_uploader(key="explain_upload").proto.max_upload_size_mb)
    assert caps == [MAX_UPLOAD_BYTES // 2**20] * 2


def test_another_set_opens_the_cell_dropdowns_on_its_own_most_confused_pair(trained_run):
    at = open_app("evaluate")
    expected = reference(trained_run, "test")
    pairs = most_confused_pairs(expected.confusion, expected.classes)
    default = (expected.classes.index(pairs[0]["true"]), expected.classes.index(pairs[0]["predicted"])) if pairs else (0, 1)
    at.selectbox(key="evaluate_true").set_value((default[0] + 1) % 10).run()  # a cell chosen on the validation images
    at.selectbox(key="evaluate_images").set_value(("__run__", "test")).run()
    assert_ok(at)
    assert (at.selectbox(key="evaluate_true").value, at.selectbox(key="evaluate_pred").value) == default


def test_rescoring_replaces_the_previous_scores_the_moment_it_starts(trained_run, monkeypatch):
    # the browser keeps a script run's old elements until the new run writes over their place:
    # the old accuracy must be written over before scoring starts, not after it
    sent = record_deltas(monkeypatch)
    at = open_app("evaluate")
    accuracy = [tuple(msg.metadata.delta_path) for msg in sent if msg.delta.new_element.metric.label == "Accuracy"][-1]
    sent.clear()
    sent_when_scoring = deltas_sent_at_scoring(monkeypatch, sent)
    at.radio(key="evaluate_tta").set_value("flip").run()
    assert_ok(at)
    assert sent_when_scoring, "the mirrored scores were not computed"
    before = sent[: sent_when_scoring[0]]
    bars = [msg.delta.new_element.progress.text for msg in before if msg.delta.new_element.WhichOneof("type") == "progress"]
    assert written_over(before, accuracy) and any(text.startswith("Scoring the images with mirror") for text in bars)
    assert metrics(at)["Accuracy"] == f"{reference(trained_run, 'val', tta='flip').accuracy:.1%}"
