"""The whole classroom lesson, played by a person in a real browser on the shared real images.

Dataset (the real source) → Augmentation lab (change ops, resample; the CutMix close-up names the
images it shows) → Train with the classroom recipe → edit a field → Experiments and Runs → back
to Train, the edit still there → Start; the live curves move → finished at ≥ 60% validation →
Evaluate on a separate labelled test folder → click a confusion cell: its gallery shows exactly
that cell → upload a PNG: a prediction; upload a file over 20 MB: the browser's sentence naming
the 20 MB cap, and the PNG's prediction stays.

Runs wherever ``../shared/data/cifar10-jpg-train.tar.gz`` is present (CI included) and chromium
is installed; takes about 3 minutes on 2 lightly loaded cores. A screenshot of every step goes to
``artifacts/lesson/`` for a person to look at.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    app_server,
    browser_page,
    click_cell,
    closest,
    gallery_captions,
    image_pixels,
    keep_failure_screenshot,
    number_value,
    open_page,
    require_chromium,
    screenshots_dir,
    select_option,
    set_checkbox,
    set_number,
    settle,
    slice_as_test_folder,
    snap,
)
from PIL import Image

from cifar_core.app.lab import pick_samples
from cifar_core.app.uploads import MAX_UPLOAD_BYTES, prepare_upload
from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, source_split_images
from cifar_core.runs import RunStore
from cifar_core.train.splits import run_splits

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

PER_CLASS = 50  # test images per class in the separate test folder
LAB_SAMPLES = 16  # the Augmentation lab's sample count (app_pages/augmentation_lab.py)
GOAL = 0.60  # the classroom recipe's promise: 60% validation accuracy
TRAINING_S = 480  # a classroom run ends about 2 minutes after Start on 2 idle cores; bounded well above
FIRST_LOAD_S = 600  # the first page decodes the 50,000 JPEGs unless the decoded cache is warm
SHOTS = screenshots_dir("lesson")
# Points drawn on the training curves (plotly's decoded traces: numpy columns arrive binary-encoded in ``data``).
CURVE_POINTS_JS = """() => {
    const curves = Array.from(document.querySelectorAll('.js-plotly-plot'))
        .find(gd => (gd._fullData || []).some(trace => (trace.name || '').startsWith('train loss')));
    return curves ? curves._fullData.reduce((points, trace) => points + (trace._length || 0), 0) : 0;
}"""
FINISHED_JS = "() => Array.from(document.querySelectorAll('h3')).some(h => h.innerText.includes('finished'))"
# The classes the Augmentation lab's soft-label bars give a share.
SOFT_LABEL_JS = """() => {
    const chart = Array.from(document.querySelectorAll('.js-plotly-plot'))
        .find(gd => ((gd.layout.title || {}).text || '').includes('Soft label'));
    const bars = chart._fullData[0];
    return Array.from(bars.y).filter((name, i) => bars.x[i] > 0);
}"""


@pytest.fixture(scope="module")
def real(shared_tarball: Path):
    """The shared images as the app decodes them (from the same cache), to check what the pages show."""
    return load_cifar(str(shared_tarball))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, shared_tarball: Path) -> Iterator:
    """``streamlit run`` on the shared tarball with an empty runs folder, as a teacher starts it."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("lesson")
    with app_server(tmp, {"CIFAR_EXPLORER_RUNS": str(tmp / "runs"), "CIFAR_EXPLORER_DATA": str(shared_tarball)}) as running:
        yield running


@pytest.fixture(scope="module")
def page(app):
    with browser_page(120_000) as tab:
        yield tab


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    yield from keep_failure_screenshot(request, page, "lesson_failure")


def shot(page, name: str) -> None:
    snap(page, name, SHOTS)


def metric(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]').first.inner_text()


def percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def image_with_caption(page, caption: str):
    return page.locator('[data-testid="stImageContainer"]').filter(has_text=caption).locator("img").first


def lab_names(real, seed: int) -> tuple[list[str], np.ndarray]:
    """The lab's sample names ("#3 ship") and images for ``seed`` in Random mode, from the library."""
    train = real.splits["train"]
    indices = pick_samples(train.labels, LAB_SAMPLES, seed)
    names = [f"#{i + 1} {real.classes[int(train.labels[index])]}" for i, index in enumerate(indices)]
    return names, train.images[indices].numpy()


def play_dataset(page, app) -> None:
    page.goto(app.url)
    page.get_by_text("Samples per class").wait_for(timeout=FIRST_LOAD_S * 1000)
    settle(page)
    assert page.get_by_text("this is not CIFAR-10").count() == 0  # the synthetic set's warning
    page.locator('[data-testid="stMain"]').get_by_text("CIFAR-10 from").wait_for()
    assert metric(page, "train images") == "50,000"
    shot(page, "01_dataset")


def play_augmentation_lab(page, real) -> None:
    open_page(page, "Augmentation lab")
    page.get_by_text("selected on Train").wait_for()  # the lab opens on the Train recipe's augmentation
    # change the operations: CutMix on, rotation by any angle in a range (the recipe flips and shifts)
    for title in ("CutMix", "Rotation"):
        page.locator('[data-testid="stExpander"] summary', has_text=title).click()  # open its section
        set_checkbox(page, f"Use {title}", True)
        settle(page)
    page.get_by_text("CutMix up close").wait_for()
    page.get_by_text("Any angle in a range").click()
    settle(page)
    page.get_by_role("button", name=re.compile("Resample")).click()
    settle(page)
    seed = int(number_value(page, "Seed"))
    assert seed == 1
    names, originals = lab_names(real, seed)
    shown = [
        text.split(":")[0]
        for text in page.locator('[data-testid="stImageCaption"]').filter(has_text=re.compile(r"^#\d+ ")).all_inner_texts()
    ]
    assert shown == names  # every sample card names the class of the image the library picked
    select_option(page, "Image A", names[4])
    select_option(page, "Image B", names[9])
    for letter, position in (("A", 4), ("B", 9)):
        image = image_with_caption(page, f"{letter}: {names[position]}")
        best, difference = closest(image_pixels(page, image), originals)
        assert (best, difference < 12) == (position, True), f"{letter} shows sample #{best + 1} ({difference:.1f} apart)"
    soft = page.evaluate(SOFT_LABEL_JS)  # the soft label's classes are those of A and B
    assert set(soft) <= {names[4].split(" ", 1)[1], names[9].split(" ", 1)[1]} and soft
    shot(page, "02_augmentation_lab")


def play_train_form(page) -> None:
    open_page(page, "Train")
    assert page.get_by_role("combobox", name="Recipe").input_value() == "classroom"
    set_number(page, "Seed", 1)  # the edit that must survive other pages
    before = {label: number_value(page, label) for label in ("Seed", "Epochs", "Batch size", "Number of images (class-balanced)")}
    shot(page, "03_train_form")
    open_page(page, "Experiments")
    assert "seed 1" in page.get_by_text(re.compile("^Base run")).first.inner_text()
    shot(page, "04_experiments")
    open_page(page, "Runs")
    shot(page, "05_runs_empty")
    open_page(page, "Train")
    page.wait_for_timeout(1000)
    assert page.get_by_role("combobox", name="Recipe").input_value() == "classroom"
    assert {label: number_value(page, label) for label in before} == before


def play_training(page, app) -> tuple[object, float]:
    """Start, watch the curves grow, wait for the end; the run and its best validation accuracy."""
    page.get_by_role("button", name="Start training").click()
    page.locator("h3", has_text=re.compile(r"^Run ")).first.wait_for()
    (run,) = RunStore(app.runs).list()
    assert run.config().seed == 1 and run.config().limit == 10_000  # the edited form, the classroom recipe
    started = time.monotonic()
    # poll once a second, not every frame: the run trains on the same two cores
    page.wait_for_function(f"({CURVE_POINTS_JS})() > 0", timeout=TRAINING_S * 1000, polling=1000)
    first = page.evaluate(CURVE_POINTS_JS)
    page.wait_for_function(f"({CURVE_POINTS_JS})() > {first}", timeout=TRAINING_S * 1000, polling=1000)  # the curves move
    shot(page, "06_training_live")
    page.wait_for_function(FINISHED_JS, timeout=TRAINING_S * 1000, polling=2000)
    settle(page)
    took = time.monotonic() - started
    best = percent(metric(page, "Best val accuracy"))
    shot(page, "07_training_finished")
    epochs = [event for event in run.events() if event["type"] == "epoch"]
    assert best == pytest.approx(max(event["val_acc"] for event in epochs), abs=6e-4)
    assert best >= GOAL, (
        f"classroom reached {best:.1%} validation accuracy, below {GOAL:.0%}, {took:.0f} s after Start over "
        f"{len(epochs)} epochs at {[round(event['images_per_s']) for event in epochs]} images/s; the time budget "
        "fits fewer epochs on a loaded machine (on 2 quiet cores: about 12 epochs near 1,400 images/s, above 70%)"
    )
    return run, best


def held_out_folder(real, run, shared_tarball: Path, target: Path) -> Path:
    """``PER_CLASS`` images per class that the run neither trained nor validated on, as ``test/<class>/``.

    They come from the training tarball, but the run used only its 10,000-image subset (its config's
    limit and seed, ``run_splits``), so these are held out by construction: a real test of the run.
    """
    splits = run_splits(run.config(), real)
    used = {real.splits["train"].ids[int(index)] for index in np.concatenate([splits.train.numpy(), splits.val.numpy()])}
    assert len(used) == 10_000
    return slice_as_test_folder(shared_tarball, target, PER_CLASS, exclude=used)


def play_evaluate(page, run, test_folder: Path):
    page.get_by_role("button", name="Evaluate this run").click()
    page.get_by_role("heading", name="Evaluate", exact=True).first.wait_for()
    settle(page)
    page.locator('[data-testid="stExpander"] summary', has_text="Score or predict another folder or archive").click()
    page.get_by_label("Folder or archive path").fill(str(test_folder))
    page.get_by_role("button", name="Use this set").click()
    settle(page)
    total = 10 * PER_CLASS
    select_option(page, "Images to score", f"The {total:,} test images of “{test_folder.name}”")
    page.locator('[data-testid="stMetricValue"]', has_text=f"{total:,}").wait_for()
    loaded = load_run_model(run, "best")
    test_data = load_cifar(str(test_folder))
    expected = evaluate(loaded, *source_split_images(test_data, "test"))
    assert metric(page, "Accuracy") == f"{expected.accuracy:.1%}"
    shot(page, "08_evaluate_held_out")

    first, pair = most_confused_pairs(expected.confusion, expected.classes)[:2]
    assert page.get_by_role("combobox", name="True class").input_value() == first["true"]  # the dropdowns open on the first
    assert page.get_by_role("combobox", name="Predicted as").input_value() == first["predicted"]
    # the second most confused pair, which only the click can show
    true_class, predicted_class = expected.classes.index(pair["true"]), expected.classes.index(pair["predicted"])
    click_cell(page, true_class, predicted_class)
    count = int(expected.confusion[true_class, predicted_class])
    page.get_by_text(re.compile(f"{count} {pair['true']} images the model called {pair['predicted']}")).wait_for()
    assert page.get_by_role("combobox", name="True class").input_value() == pair["true"]
    assert page.get_by_role("combobox", name="Predicted as").input_value() == pair["predicted"]
    captions = gallery_captions(page)
    assert len(captions) == min(count, 24) and all(caption.startswith(pair["predicted"] + " ") for caption in captions)
    # each picture is one of the test folder's true-class images, and one the model called the predicted class
    images = test_data.splits["test"].images.numpy()
    labels = test_data.splits["test"].labels.numpy()
    cell = {item["row"] for item in expected.cell(true_class, predicted_class, limit=len(labels))}
    for picture in page.locator('[data-testid="stImageContainer"]').filter(has_text="%").locator("img").all():
        best, difference = closest(image_pixels(page, picture), images)
        assert difference < 12 and labels[best] == true_class and best in cell, (best, difference)
    shot(page, "09_evaluate_clicked_cell")
    return loaded


def play_upload(page, loaded, test_folder: Path, tmp: Path) -> None:
    source = sorted((test_folder / "test" / "ship").glob("*.jpg"))[0]
    photo = tmp / "my_photo.png"
    Image.open(source).convert("RGB").resize((256, 256), Image.Resampling.NEAREST).save(photo)
    probabilities = loaded.probabilities(prepare_upload(photo.read_bytes(), photo.name).tensor.unsqueeze(0))[0]
    expected = loaded.classes[int(probabilities.argmax())]
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploader.set_input_files(str(photo))
    page.locator('[data-testid="stMetric"]', has_text="Prediction").wait_for()
    settle(page)
    assert metric(page, "Prediction") == expected
    page.get_by_text("What the model sees (from a 256×256 PNG)").wait_for()
    shot(page, "10_upload_prediction")

    huge = io.BytesIO()
    Image.new("RGB", (8, 8)).save(huge, "PNG")
    payload = huge.getvalue() + bytes(MAX_UPLOAD_BYTES)  # just over the uploader's cap: the browser refuses it unsent
    uploader.set_input_files({"name": "huge.png", "mimeType": "image/png", "buffer": payload})
    page.get_by_text(re.compile(r"File must be 20(\.0)? ?MB or smaller")).wait_for()
    settle(page)
    assert metric(page, "Prediction") == expected  # the accepted PNG is still the upload, and its prediction stays
    shot(page, "11_upload_too_big")


# 4 min, and its 60% goal holds only on quiet cores (CI's busy 2 cores trained 3 epochs at 290 images/s
# where a quiet machine trains 12 at 1,400): run with --runslow before a release
@pytest.mark.slow
def test_the_lesson_end_to_end_on_real_images(app, page, real, shared_tarball, tmp_path):
    play_dataset(page, app)
    play_augmentation_lab(page, real)
    play_train_form(page)
    run, _ = play_training(page, app)
    test_folder = held_out_folder(real, run, shared_tarball, tmp_path / "held-out")
    loaded = play_evaluate(page, run, test_folder)
    play_upload(page, loaded, test_folder, tmp_path)
