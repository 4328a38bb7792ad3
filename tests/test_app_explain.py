"""Explain page: saliency for a preselected image, every mistake, the embedding map, suspect labels, feature maps."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
from app_support import assert_ok, button, deltas_sent_at_scoring, element_paths, errors, open_app, page_text, record_deltas, written_over
from data_fixtures import make_images, write_image_folder
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, source_split_images, split_images
from cifar_core.explain.cache import FOLDER
from cifar_core.explain.mistakes import mistakes


def reference(run, split: str = "val"):
    loaded = load_run_model(run, "best")
    return evaluate(loaded, *split_images(loaded.config, load_cifar("synthetic"), split))


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def captions(at) -> list[str]:
    return [element.captions[0] for element in at.image if element.captions]


def show(at, view: str):
    at.radio(key="explain_view").set_value(view).run()
    assert_ok(at)
    return at


def test_no_run_is_explained(app_env):
    at = open_app("explain")
    assert "No run selected" in page_text(at)


def test_a_request_from_another_page_preselects_the_image_and_shows_both_maps(trained_run):
    expected = reference(trained_run)
    wrong = mistakes(expected)[0]
    at = open_app()
    at.session_state["explain_request"] = {"run_id": trained_run.id, "source": "synthetic", "split": "val", "index": wrong["index"]}
    at.switch_page("app_pages/explain.py").run()
    assert_ok(at)
    assert "explain_request" not in at.session_state
    assert at.radio(key="explain_view").value == "Saliency" and at.number_input(key="explain_index").value == wrong["index"]
    shown = captions(at)
    assert shown[0].startswith(f"image {wrong['index']} of the val split")
    assert shown[1].startswith(f"Evidence for its answer, {wrong['predicted']}")
    assert shown[2].startswith(f"Evidence for the true class, {wrong['true']}") and "the answer is wrong" in shown[2]
    assert len({str(element.value) for element in at.image[:3]}) == 3  # media URLs are content hashes: three different pictures
    at.radio(key="explain_method").set_value("occlusion").run()
    assert_ok(at)
    assert len(captions(at)) == 3


def test_a_request_naming_the_train_split_shows_the_run_s_held_out_image_even_from_the_test_split(trained_run):
    # Evaluate names the run's own validation images by the source split they lie in ("train")
    expected = reference(trained_run)
    index = int(expected.indices[3])
    at = open_app("explain")
    at.selectbox(key="explain_images").set_value(("__run__", "test")).run()
    at.session_state["explain_request"] = {"run_id": trained_run.id, "source": "synthetic", "split": "train", "index": index}
    at.switch_page("app_pages/explain.py").run()
    assert_ok(at)
    assert at.selectbox(key="explain_images").value == ("__run__", "val") and at.number_input(key="explain_index").value == index
    assert captions(at)[0].startswith(f"image {index} of the val split")


def test_an_image_of_another_source_is_carried_over_not_looked_up_in_the_run_s_own(trained_run, app_env):
    images, labels = make_images(2, seed=5)
    folder = write_image_folder(app_env / "data" / "held-out", {"test": (images, labels)})
    index = 13  # a truck (class-grouped, two per class); the run's own source has an image 13 too, of another class
    at = open_app()
    at.session_state["explain_request"] = {"run_id": trained_run.id, "source": str(folder.resolve()), "split": "test", "index": index}
    at.switch_page("app_pages/explain.py").run()
    assert_ok(at)
    assert at.radio(key="explain_from").value == "the image sent from Evaluate"
    shown = captions(at)
    assert shown[0].startswith(f"image {index} of the test split of held-out")
    assert shown[2].startswith(f"Evidence for the true class, {CIFAR10_CLASSES[labels[index]]}")
    at.radio(key="explain_from").set_value("an image of the split").run()  # the run's own images stay one click away
    assert_ok(at)
    assert captions(at)[0].startswith("image ") and "held-out" not in captions(at)[0]
    at.session_state["explain_request"] = {"run_id": trained_run.id, "source": str(folder.resolve()), "split": "test", "index": 99}
    at.switch_page("app_pages/explain.py").run()
    assert errors(at) == [f"Image 99 is not in the test split of {folder.resolve()} (20 images)."]


def test_explain_this_picture_in_evaluate_s_upload_box_opens_explain_on_it(trained_run):
    at = open_app("evaluate")
    at.file_uploader(key="evaluate_upload").set_value(("photo.png", png(), "image/png")).run()
    assert_ok(at)
    at.button(key="evaluate_upload_explain").click().run()
    assert_ok(at)
    assert "explain_request" not in at.session_state
    assert at.radio(key="explain_view").value == "Saliency" and at.radio(key="explain_from").value == "an uploaded picture"
    shown = captions(at)
    assert shown[0].startswith("photo.png (64×48 PNG)") and shown[1].startswith("Evidence for its answer, ")


def test_an_index_outside_the_split_is_one_sentence(trained_run):
    expected = reference(trained_run)
    outside = next(i for i in range(1000) if i not in set(expected.indices.tolist()))
    at = open_app("explain")
    at.number_input(key="explain_index").set_value(outside).run()
    assert_ok(at)
    assert errors(at) == [f"Image {outside} is not in this run's val split ({expected.n:,} images); pick one of them."]


def test_an_uploaded_picture_gets_a_map_for_its_prediction_and_the_said_class(trained_run):
    at = open_app("explain")
    at.radio(key="explain_from").set_value("an uploaded picture").run()
    at.file_uploader(key="explain_upload").set_value(("photo.png", png(), "image/png")).run()
    assert_ok(at)
    assert captions(at)[0].startswith("photo.png (64×48 PNG)") and len(captions(at)) == 2
    at.selectbox(key="explain_upload_truth").set_value(3).run()
    assert_ok(at)
    assert captions(at)[2].startswith("Evidence for the true class, cat")
    at.file_uploader(key="explain_upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert any("x.png is not an image this app can read" in error for error in errors(at))


def test_every_mistake_is_listed_most_confident_first_and_filters_by_class(trained_run):
    expected = reference(trained_run)
    everything = mistakes(expected)
    at = show(open_app("explain"), "Every mistake")
    wrong = expected.n - int((expected.preds == expected.labels).sum())
    assert f"**{wrong:,}** of the **{wrong:,}** mistakes" in page_text(at)
    shown = captions(at)
    assert len(shown) == min(24, wrong) and shown[0].startswith(f"#{everything[0]['index']} {everything[0]['true']} → ")
    assert all(caption.count("%") == 3 for caption in shown)
    assert "#N, its number in the source it comes from" in page_text(at)  # the captions' numbers are explained
    true_class = expected.classes.index(everything[0]["true"])
    at.selectbox(key="explain_mistakes_true").set_value(true_class).run()
    only = [item for item in everything if item["true"] == everything[0]["true"]]
    assert [caption.split(" ")[0] for caption in captions(at)] == [f"#{item['index']}" for item in only[:24]]
    at.toggle(key="explain_mistakes_saliency").set_value(True).run()
    assert_ok(at)
    assert len(captions(at)) == len(only[:24])
    at.button(key=f"explain_mistake_{only[0]['index']}").click().run()
    assert at.radio(key="explain_view").value == "Saliency" and at.number_input(key="explain_index").value == only[0]["index"]


def test_the_embedding_map_is_drawn_with_thumbnails_and_cached_in_the_run(trained_run):
    at = show(open_app("explain"), "Embedding map")
    expected = reference(trained_run)
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert [field["field"] for field in spec["encoding"]["tooltip"]] == ["image", "index", "true class", "prediction"]
    points = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
    assert sorted(points["index"]) == sorted(expected.indices.tolist())
    assert all(url.startswith("data:image/jpeg;base64,") for url in points["image"])
    wrong = int((expected.preds != expected.labels).sum())
    assert (points["mark"] == "mistake").sum() == wrong
    assert (trained_run.dir / FOLDER / "embedding-val-best.json").is_file()
    assert "drag across the map" in page_text(at)


def test_suspect_labels_are_shown_as_suspects(trained_run):
    at = show(open_app("explain"), "Suspect labels")
    assert "suspects for a person to check, not facts" in page_text(at)
    weak = reference(trained_run).accuracy < 0.8  # a weak model's suspects are mostly its own mistakes, and the page says so
    assert ("most suspects are likely its own mistakes" in page_text(at)) == weak
    assert all(" labelled " in caption and "model says" in caption and "(label quality " in caption for caption in captions(at))
    assert "label-quality score, from 0 (the label looks wrong) to 1 (it looks right)" in page_text(at)


def test_inside_the_cnn_shows_every_stage_and_the_first_filters(trained_run):
    at = show(open_app("explain"), "Inside the CNN")
    text = page_text(at)
    for stage in ("Stage 1, 32×32", "Stage 2, 16×16", "Stage 3, 8×8", "Stage 4, 4×4"):
        assert stage in text
    channel_tiles = [element for element in at.image if element.captions and element.captions[0].startswith("channel ")]
    assert len(channel_tiles) == 4 * 8


def test_explain_opens_on_the_separate_set_evaluate_scored_and_lists_its_mistakes(trained_run, app_env):
    test = load_cifar("synthetic").splits["test"]
    folder = write_image_folder(app_env / "data" / "held-out", {"test": (test.images.numpy(), test.labels.numpy())}).resolve()
    at = open_app("evaluate")
    at.text_input(key="evaluate_path").input("held-out").run()
    button(at, "Use this set").click().run()
    assert at.selectbox(key="evaluate_images").value == (str(folder), "test")
    at.switch_page("app_pages/explain.py").run()
    assert_ok(at)
    assert at.selectbox(key="explain_images").value == (str(folder), "test")
    assert "The 200 test images of “held-out”" in at.selectbox(key="explain_images").options
    # the option is short enough for the box at 1,366 px; what "validation" means is in the help
    assert at.selectbox(key="explain_images").options[0] == "This run's validation images"
    assert "held out from its training" in at.selectbox(key="explain_images").help
    expected = evaluate(load_run_model(trained_run, "best"), *source_split_images(load_cifar(str(folder)), "test"))
    at = show(at, "Every mistake")
    wrong = expected.n - int((expected.preds == expected.labels).sum())
    assert f"**{wrong:,}** of the **{wrong:,}** mistakes on 200 test images" in page_text(at)
    first = mistakes(expected)[0]
    assert captions(at)[0].startswith(f"#{first['index']} {first['true']} → ")
    at.selectbox(key="explain_images").set_value(("__run__", "val")).run()  # the run's own images stay one choice away
    assert_ok(at)
    assert f"mistakes on {reference(trained_run).n:,} val images" in page_text(at)


def test_another_checkpoint_s_view_replaces_the_old_gallery_the_moment_scoring_starts(trained_run, monkeypatch):
    # the browser kept the previous gallery under the new run's progress until the new one was drawn
    sent = record_deltas(monkeypatch)
    at = show(open_app("explain"), "Every mistake")
    gallery = element_paths(sent, "imgs")[-1]
    sent.clear()
    sent_when_scoring = deltas_sent_at_scoring(monkeypatch, sent)
    at.radio(key="explain_checkpoint").set_value("last").run()
    assert_ok(at)
    assert sent_when_scoring, "the last checkpoint was not scored"
    assert written_over(sent[: sent_when_scoring[0]], gallery)
    loaded = load_run_model(trained_run, "last")
    expected = evaluate(loaded, *split_images(loaded.config, load_cifar("synthetic"), "val"))
    wrong = expected.n - int((expected.preds == expected.labels).sum())
    assert f"**{wrong:,}** of the **{wrong:,}** mistakes on {expected.n:,} val images" in page_text(at)
