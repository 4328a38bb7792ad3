"""Augmentation lab: previews follow the controls, CutMix is shown up close, settings carry to Train."""

from __future__ import annotations

import re
import statistics
import time

from app_support import assert_ok, button, charts, errors, open_app, page_text
from data_fixtures import make_images, write_image_folder

SAMPLES = 16


def preview_captions(at) -> list[str]:
    return [element.captions[0] for element in at.image if re.match(r"#\d+ ", element.captions[0])]


def study_lab():
    """The lab with the study's four ops at aug_p 0.5 / mix_p 0.25 (it opens on the Train recipe's)."""
    at = open_app("augmentation_lab")
    for op in ("rotation", "resized_crop", "translate", "cutmix"):
        at.toggle(key=f"lab_on_{op}").set_value(True)
    at.toggle(key="lab_on_hflip").set_value(False)
    at.slider(key="lab_aug_p").set_value(0.5)
    at.slider(key="lab_mix_p").set_value(0.25).run()
    assert_ok(at)
    return at


def changed_count(at) -> int:
    return int(re.search(r"\*\*(\d+) of 16\*\*", page_text(at)).group(1))


def test_sixteen_previews_say_what_was_applied_and_cutmix_is_shown_up_close(app_env):
    at = study_lab()
    captions = preview_captions(at)
    assert len(captions) == SAMPLES
    assert all("Label:" in caption for caption in captions)
    assert any("rotated" in caption or "cropped" in caption or "shifted" in caption for caption in captions)
    assert [element.captions[0][:2] for element in at.image[-3:]] == ["A:", "B:", "A "]
    soft_label = charts(at)[-1]["data"][0]
    assert abs(sum(soft_label["x"]) - 1.0) < 1e-3 and len(soft_label["y"]) in (1, 2)


def test_probability_zero_leaves_every_image_unchanged(app_env):
    at = study_lab()
    assert changed_count(at) > 0
    at.slider(key="lab_aug_p").set_value(0.0)
    at.slider(key="lab_mix_p").set_value(0.0).run()
    assert_ok(at)
    assert changed_count(at) == 0
    assert all(": unchanged. Label: " in caption and caption.endswith(" 100%") for caption in preview_captions(at))


def test_turning_an_op_off_removes_it_from_the_records(app_env):
    at = study_lab()
    at.slider(key="lab_aug_p").set_value(1.0).run()
    assert all("rotated" in caption for caption in preview_captions(at))
    at.toggle(key="lab_on_rotation").set_value(False).run()
    assert not any("rotated" in caption for caption in preview_captions(at))


def test_one_class_mode_and_resample_choose_the_images(app_env):
    at = study_lab()
    at.radio(key="lab_mode").set_value("One class").run()
    at.selectbox(key="lab_class").set_value("frog").run()
    assert all(caption.split(" ")[1] == "frog:" for caption in preview_captions(at))
    before = [element.value for element in at.image]
    button(at, "Resample").click().run()
    assert at.number_input(key="lab_seed").value == 1
    assert [element.value for element in at.image] != before


def test_an_invalid_parameter_is_an_error_message_not_a_traceback(app_env):
    at = study_lab()
    at.multiselect(key="lab_rot_angles").set_value([]).run()
    assert_ok(at)
    assert any("rotation" in error and "angles" in error for error in errors(at))


def test_a_slider_move_rerenders_sixteen_previews_within_300_ms(app_env):
    at = study_lab()
    durations = []
    for value in (0.3, 0.6, 0.9, 0.4, 0.7):
        at.slider(key="lab_aug_p").set_value(value)
        start = time.perf_counter()
        at.run()
        durations.append(time.perf_counter() - start)
        assert len(preview_captions(at)) == SAMPLES
    assert statistics.median(durations) <= 0.3, durations


def test_settings_carry_over_to_the_train_page(app_env):
    at = study_lab()
    at.slider(key="lab_aug_p").set_value(0.4)
    at.slider(key="lab_mix_p").set_value(0.2)
    at.toggle(key="lab_on_hflip").set_value(True)
    at.slider(key="lab_alpha_cutmix").set_value(1.0).run()
    button(at, "Train with these settings").click().run()
    assert_ok(at)
    assert at.title[0].value == "Train"
    assert at.slider(key="train_aug_p").value == 0.4 and at.slider(key="train_mix_p").value == 0.2
    text = page_text(at)
    assert "**Augmentations** (from the Augmentation lab): Rotation by 90°, 180° or 270°, on 40% of images;" in text
    assert "Horizontal flip, on 40% of images; CutMix (α 1), on 20% of images." in text
    assert "{" not in text


def test_the_cutmix_dropdowns_are_new_for_every_sample_and_name_its_images(app_env):
    """After Resample the dropdowns must name the new sample's images: a dropdown that kept its key would keep showing the old
    sample's labels in the browser."""
    at = study_lab()
    first = at.selectbox(key="lab_cutmix_a_0_train_None")
    assert first.value == preview_captions(at)[0].split(":")[0]  # "#1 <its class>"
    button(at, "Resample").click().run()
    renewed = at.selectbox(key="lab_cutmix_a_1_train_None")
    assert renewed.value == preview_captions(at)[0].split(":")[0]
    assert [caption for caption in (element.captions[0] for element in at.image) if caption.startswith("A: ")] == [f"A: {renewed.value}"]
    assert not [box for box in at.selectbox if box.key == "lab_cutmix_a_0_train_None"]


def test_a_test_only_source_shows_its_test_images_and_an_unlabelled_one_a_sentence(app_env, monkeypatch):
    source = write_image_folder(app_env / "data" / "test-only", {"test": make_images(2, seed=2)})
    monkeypatch.setenv("CIFAR_EXPLORER_DATA", str(source))
    at = study_lab()
    assert "no training images, so the lab shows its test images" in page_text(at)
    assert len(preview_captions(at)) == SAMPLES


def test_no_image_is_mixed_with_itself(app_env):
    at = study_lab()
    at.slider(key="lab_mix_p").set_value(1.0).run()
    captions = preview_captions(at)
    pasted = [(caption.split(" ")[0], re.search(r"from image (#\d+)", caption).group(1)) for caption in captions if "from image" in caption]
    assert len(pasted) == SAMPLES and all(own != partner for own, partner in pasted)


def test_the_lab_opens_on_the_train_recipe_and_its_changes_are_what_train_starts(app_env):
    at = open_app("augmentation_lab")
    assert "augmentation of the **classroom** recipe selected on Train" in page_text(at)
    assert at.toggle(key="lab_on_hflip").value and at.toggle(key="lab_on_translate").value
    assert not at.toggle(key="lab_on_cutmix").value and at.slider(key="lab_mix_p").value == 0.0
    assert "CutMix up close" not in page_text(at)
    at.toggle(key="lab_on_rotation").set_value(True).run()
    at.switch_page("app_pages/train.py").run()
    assert_ok(at)
    assert "**Augmentations** (from the Augmentation lab): Rotation by 90°, 180° or 270°, on 50% of images;" in page_text(at)


def test_a_train_form_still_waiting_for_its_weights_file_still_opens_the_lab_on_its_recipe(app_env):
    """MobileNetV3 chosen with "weights from a file" and no path yet is not a runnable config, but its
    augmentation is the recipe's: the lab must not fall back to other settings while naming the recipe."""
    at = open_app("train")
    at.selectbox(key="train_model").set_value("mobilenet_v3_large").run()
    at.radio(key="train_weights").set_value("ImageNet weights from a file").run()
    at.switch_page("app_pages/augmentation_lab.py").run()
    assert_ok(at)
    assert "augmentation of the **classroom** recipe selected on Train" in page_text(at)
    assert at.toggle(key="lab_on_hflip").value and at.toggle(key="lab_on_translate").value
    assert not at.toggle(key="lab_on_cutmix").value and not at.toggle(key="lab_on_rotation").value
