"""Dataset page: the source in CIFAR_EXPLORER_DATA can always be reopened, even outside the roots (the
operator chose it, so switching away must not lock it out), and a path too long for the system is a sentence."""

from __future__ import annotations

from app_support import assert_ok, button, errors, metrics, open_app, page_text
from data_fixtures import make_images, write_image_folder


def test_the_starting_source_comes_back_after_switching_to_synthetic(app_env, monkeypatch):
    real = write_image_folder(app_env / "elsewhere", {"train": make_images(3, seed=0)})  # outside the allowed root
    monkeypatch.setenv("CIFAR_EXPLORER_DATA", str(real))
    at = open_app()
    assert metrics(at)["train images"] == "30"
    button(at, "Use the SYNTHETIC demo set").click().run()
    assert "SYNTHETIC demo set" in page_text(at)

    at.text_input(key="dataset_path").input(str(real)).run()  # typing it again is allowed
    button(at, "Load this path").click().run()
    assert_ok(at)
    assert not errors(at) and metrics(at)["train images"] == "30"

    button(at, "Use the SYNTHETIC demo set").click().run()
    button(at, "Back to the starting source").click().run()
    assert_ok(at)
    assert metrics(at)["train images"] == "30" and "CIFAR-10** from" in page_text(at)
    assert not [element for element in at.button if element.label.startswith("Back to the starting source")]


def test_a_path_too_long_for_the_system_is_one_sentence(app_env):
    at = open_app()
    at.text_input(key="dataset_path").input(str(app_env / "data" / ("a" * 5000))).run()
    button(at, "Load this path").click().run()
    assert_ok(at)
    assert any("cannot be opened: File name too long" in error for error in errors(at))
