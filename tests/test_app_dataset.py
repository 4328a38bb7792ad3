"""Dataset page: what is loaded, its balance and samples; choosing a source, and refusing bad ones."""

from __future__ import annotations

import urllib.error

import numpy as np
from app_support import assert_ok, button, charts, errors, metrics, open_app, page_text
from data_fixtures import make_images, png_bytes, write_7z
from PIL import Image

from cifar_core.classes import CIFAR10_CLASSES


def write_image_folder(root, per_class: int, split: str = "train") -> None:
    """A tiny <split>/<class>/*.png dataset of random images."""
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        folder = root / split / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")


def test_synthetic_set_is_marked_synthetic_with_sizes_balance_and_samples(app_env):
    at = open_app()
    text = page_text(at)
    assert "SYNTHETIC demo set — this is not CIFAR-10" in text
    assert "CIFAR-10** from" not in text
    assert metrics(at) == {"train images": "1,000", "test images": "200", "classes": "10"}
    balance = charts(at)[0]["data"]
    assert [trace["name"] for trace in balance] == ["train", "test"]
    samples = [element for element in at.image if element.captions[0] in CIFAR10_CLASSES]
    assert [element.captions[0] for element in samples] == list(CIFAR10_CLASSES)


def test_a_new_sample_seed_shows_other_images(app_env):
    at = open_app()
    before = [element.value for element in at.image]
    at.number_input(key="dataset_seed").set_value(7).run()
    assert_ok(at)
    assert [element.value for element in at.image] != before


def test_without_a_configured_source_the_synthetic_set_comes_with_instructions(app_env, monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR_EXPLORER_DATA")
    monkeypatch.setattr("cifar_core.app.sources.project_data_dir", lambda: tmp_path / "no-data-here")
    text = page_text(open_app())
    assert "SYNTHETIC" in text and "To use real CIFAR-10" in text and "CIFAR_EXPLORER_DATA" in text


def test_a_path_outside_the_allowed_roots_is_refused_with_a_sentence(app_env):
    at = open_app()
    at.text_input(key="dataset_path").input("/etc").run()
    button(at, "Load this path").click().run()
    assert_ok(at)
    assert any("outside the folders this app may read from" in error for error in errors(at))
    assert "SYNTHETIC demo set" in page_text(at)  # the old source stays loaded


def test_dot_dot_and_missing_paths_are_refused(app_env):
    at = open_app()
    at.text_input(key="dataset_path").input(str(app_env / "data" / ".." / "runs")).run()
    button(at, "Load this path").click().run()
    assert any("contains '..'" in error for error in errors(at))
    at.text_input(key="dataset_path").input(str(app_env / "data" / "missing")).run()
    button(at, "Load this path").click().run()
    assert any("does not exist" in error for error in errors(at))


def test_a_folder_that_is_not_cifar_shows_the_loaders_explanation(app_env):
    (app_env / "data" / "junk").mkdir()
    (app_env / "data" / "junk" / "notes.txt").write_text("hello")
    at = open_app()
    at.text_input(key="dataset_path").input("junk").run()
    button(at, "Load this path").click().run()
    assert_ok(at)
    assert any("does not hold CIFAR-10 in a known layout" in error for error in errors(at))


def test_loading_an_image_folder_inside_the_allowed_root_switches_every_page_to_it(app_env):
    write_image_folder(app_env / "data" / "tiny", per_class=3)
    at = open_app()
    at.text_input(key="dataset_path").input(str(app_env / "data" / "tiny")).run()
    button(at, "Load this path").click().run()
    assert_ok(at)
    text = page_text(at)
    assert "CIFAR-10** from" in text and "tiny" in text and "SYNTHETIC demo set — this" not in text
    assert metrics(at)["train images"] == "30"
    assert "no test split" in text
    assert any("Data: CIFAR-10" in element.value for element in at.sidebar.success)
    button(at, "Use the SYNTHETIC demo set").click().run()
    assert metrics(at)["train images"] == "1,000"


def test_download_offline_shows_the_loaders_error(app_env, monkeypatch, tmp_path):
    monkeypatch.setattr("cifar_core.data.loader.project_data_dir", lambda: tmp_path / "download-target")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torchvision.datasets.CIFAR10", offline)
    at = open_app()
    button(at, "Download CIFAR-10").click().run()
    assert_ok(at)
    assert any("downloading it failed" in error and "Name or service not known" in error for error in errors(at))


def load_path(at, path) -> None:
    at.text_input(key="dataset_path").input(str(path)).run()
    button(at, "Load this path").click().run()
    assert_ok(at)


def test_a_source_with_only_test_images_says_what_it_can_be_used_for(app_env):
    write_image_folder(app_env / "data" / "only-test", per_class=2, split="test")
    at = open_app()
    load_path(at, app_env / "data" / "only-test")
    assert metrics(at) == {"test images": "20", "classes": "10"}
    text = page_text(at)
    assert "only test images" in text and "Evaluate page" in text
    assert "no test split" not in text
    samples = [element for element in at.image if element.captions[0] in CIFAR10_CLASSES]
    assert [element.captions[0] for element in samples] == list(CIFAR10_CLASSES)  # the test split's samples, not a KeyError


def test_a_source_without_labels_says_it_can_only_be_predicted(app_env):
    folder = app_env / "data" / "kaggle-test"
    folder.mkdir()
    write_7z(folder / "test.7z", {f"test/{index}.png": png_bytes(image) for index, image in enumerate(make_images(1, 0)[0], start=1)})
    at = open_app()
    load_path(at, folder)
    assert metrics(at)["test images"] == "10"
    text = page_text(at)
    assert "no labels" in text and "submission.csv" in text
    assert not [element for element in at.image if element.captions[0] in CIFAR10_CLASSES]
