"""The lesson study: its definition and time on a quiet CPU, the rotated-validation score against
torchvision's rotate, the takeaway sentence from constructed results, and the busy-machine warnings."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from app_support import open_app, page_text
from torchvision.transforms.v2 import functional as TF

from cifar_core.evaluate import LoadedModel
from cifar_core.models import build_model
from cifar_core.study.catalog import NAMED_STUDIES, get_named_study
from cifar_core.study.estimate import Throughput, budget_epochs, budget_warning, cut_short_warning
from cifar_core.study.lesson import ROTATED, rotated_accuracy, takeaway
from cifar_core.study.published import PUBLISHED_ROOT, lesson_takeaway, load_published
from cifar_core.train import TrainConfig

# Training images/s of fast_cnn 32/64/128 at batch 512 on the idle 2-core development CPU (test_study_named).
QUIET_FAST_CNN = 2261.0


def test_the_lesson_is_the_first_named_study_with_three_variants_over_three_seeds():
    assert list(NAMED_STUDIES)[0] == "lesson"
    study = get_named_study("lesson").plan("/tmp/not-created")
    assert [v.name for v in study.variants] == ["none", "rotation", "flip+shift"] and study.reference_variant == "none"
    assert [study.config_for(run).augment_ops for run in study.runs[:3]] == [[], ["rotation"], ["hflip", "translate"]]
    assert study.seeds == [0, 1, 2] and len(study.runs) == 9 and study.base.split_seed == 0
    assert (study.base.model, study.base.limit, study.base.epochs, study.base.aug_p) == ("fast_cnn", 2500, 12, 0.5)
    assert study.base.budget_minutes is None  # fixed epochs: the published answer never depends on the machine's speed


def test_the_lesson_fits_in_five_minutes_on_the_quiet_cpu():
    estimate = get_named_study("lesson").estimate(Throughput(QUIET_FAST_CNN, 3 * QUIET_FAST_CNN, "README"))
    assert 1 <= estimate.minutes <= 5, estimate.describe()


def _tiny_model() -> LoadedModel:
    torch.manual_seed(0)
    model = build_model("fast_cnn", dropout=0.0, num_classes=10, options={"widths": [8, 8, 8]}).eval()
    config = TrainConfig(model="fast_cnn", model_options={"widths": [8, 8, 8]}, precision="fp32")
    return LoadedModel(model, config, tuple(str(i) for i in range(10)), 0, torch.device("cpu"))


def test_rotated_accuracy_is_clean_accuracy_at_k0_and_matches_torchvision_rotate_image_by_image():
    model = _tiny_model()
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=generator)
    clean = model.probabilities(images).argmax(dim=1)
    labels = clean.clone()
    labels[:4] = (labels[:4] + 1) % 10  # 8 of 12 right on the images as they are
    assert rotated_accuracy(model, images, labels, quarter_turns=(0,)) == pytest.approx(8 / 12)
    correct = 0
    for k in (1, 2, 3):
        for image, label in zip(images, labels):
            turned = TF.rotate(image, 90.0 * k)  # counter-clockwise, as torch.rot90 over (H, W)
            correct += int(model.probabilities(turned[None]).argmax(dim=1).item() == label.item())
    assert rotated_accuracy(model, images, labels) == pytest.approx(correct / 36)


def _table(effects: dict[str, list[float]], metric: str = ROTATED) -> pd.DataFrame:
    rows = []
    for variant, values in effects.items():
        for seed, value in enumerate(values):
            rows.append({"variant": variant, "seed": seed, "state": "finished", "chance_warning": None, metric: value})
    frame = pd.DataFrame(rows)
    frame["final_val_acc"] = 0.5 + 0.01 * frame["seed"]  # every variant the same, seed by seed: a zero difference
    return frame


def test_the_takeaway_names_an_effect_outside_its_interval_and_not_one_that_covers_zero():
    runs = _table({"none": [0.30, 0.32, 0.31], "rotation": [0.45, 0.48, 0.46], "flip+shift": [0.31, 0.30, 0.33]})
    sentence = takeaway(runs, "none", ["none", "rotation", "flip+shift"])
    assert sentence.startswith("Compared with none over 3 seeds (paired, 95% intervals): On validation images rotated by 90, 180 or 270")
    assert "rotation +15.3 ± 1.4 points" in sentence  # differences 15, 16, 15: mean 15.3, t(2) x s / sqrt 3 = 1.4
    assert "flip+shift: no difference we can tell (+0.3 ± 5.2 points)" in sentence
    assert "On the validation images as they are, rotation: no difference we can tell (+0.0 ± 0.0 points)" in sentence
    assert "gap" not in sentence  # the table has no acc_gap column, so it says nothing about it


def test_the_lesson_takeaway_says_when_nothing_is_published(tmp_path):
    assert lesson_takeaway(tmp_path) == (
        "The lesson study is not published in this copy yet: `python scripts/publish_study.py lesson --data PATH` makes it."
    )


@pytest.mark.skipif(not (PUBLISHED_ROOT / "lesson" / "study.json").is_file(), reason="the lesson study is not published in this copy")
def test_the_published_lesson_says_what_its_own_results_say():
    study = load_published(PUBLISHED_ROOT / "lesson")
    assert study.runs[ROTATED].notna().all()
    assert lesson_takeaway() == takeaway(study.runs, "none", ["none", "rotation", "flip+shift"])


def test_a_budget_that_buys_too_few_epochs_is_named_before_start_and_in_the_results():
    study = get_named_study("lesson").plan("/tmp/not-created", budget_minutes=1.0)
    slow = Throughput(40.0, 120.0, "injected")  # 2,000 / 40 + 500 / 120 = 54 s an epoch: 1.1 epochs a minute
    warning = budget_warning(study, 50_000, slow)
    bought = budget_epochs(study.base, 50_000, slow)
    assert bought <= 1
    assert warning is not None and "(40 training images/s)" in warning and f"buys only {bought} epochs," in warning
    assert budget_warning(study, 50_000, Throughput(QUIET_FAST_CNN, 3 * QUIET_FAST_CNN, "quiet")) is None
    assert budget_warning(get_named_study("lesson").plan("/tmp/not-created"), 50_000, slow) is None  # no budget: all epochs
    runs = [{"state": "finished", "epochs_done": 2}, {"state": "finished", "epochs_done": 12}, {"state": "running", "epochs_done": 0}]
    assert cut_short_warning(runs, 12) == (
        "Some runs finished after only 2 of 12 epochs: their time budget ran out on a busy machine, "
        "too few epochs for the comparison to mean anything."
    )
    assert cut_short_warning([{"state": "finished", "epochs_done": 12}], 12) is None


def test_the_experiments_page_lists_the_lesson_first_and_states_the_published_takeaway(app_env):
    at = open_app("experiments")
    [picker] = [box for box in at.selectbox if box.label == "Named study"]
    assert picker.options[0] == "lesson" and picker.value == "lesson"
    assert get_named_study("lesson").description in page_text(at)
    assert any(lesson_takeaway() in info.value for info in at.info)
