"""The Explain page in a real browser: Debian's chromium driven by Playwright against ``streamlit run``.

What AppTest cannot do is played here with the mouse: hovering a point of the embedding map must
show that image's thumbnail (Vega's tooltip shows the chart's ``image`` field, a data URL) and its
prediction; a box dragged across the map must open a gallery of exactly the points inside it; a
confusion cell clicked on Evaluate must lead, through its gallery's "Explain" button, to Explain
showing that very image with its saliency, and Evaluate's upload box to Explain on the upload.
The run is simple_cnn trained in the test on the synthetic set (``explain_support``), scored here
with the library to know what the page must show. Full-page screenshots of every step go to
``artifacts/explain/`` for a person to look at.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import browser_support
import numpy as np
import pytest
from browser_support import ROOT, click_cell, open_page, settle
from explain_support import trained_explain_run
from PIL import Image
from test_browser_e2e import page, server  # noqa: F401  (the synthetic-set server and its tab, shared)

from cifar_core.data import load_cifar
from cifar_core.evaluate import evaluate, load_run_model, most_confused_pairs, split_images
from cifar_core.explain.charts import THUMBNAIL_SHOWN_PX
from cifar_core.explain.mistakes import mistakes
from cifar_core.figures.images import to_hwc, upscale
from cifar_core.runs import RunStore

pytestmark = pytest.mark.browser

IMAGES_LOADED_JS = "() => Array.from(document.querySelectorAll('[data-testid=stImage] img')).every(i => i.complete && i.naturalWidth > 0)"
IMAGE_SOURCES_JS = "() => Array.from(document.querySelectorAll('[data-testid=stImage] img'), i => i.src)"
ALL_REPLACED_JS = """(before) => {
    const now = Array.from(document.querySelectorAll('[data-testid=stImage] img'));
    return now.length === before.length && now.every((i, k) => i.src !== before[k] && i.complete && i.naturalWidth > 0);
}"""
EVERY_CAPTION_JS = """([prefix, part]) => {
    const texts = Array.from(document.querySelectorAll('[data-testid=stImageCaption]'), c => c.innerText);
    return texts.filter(t => t.startsWith(prefix)).length > 0 && texts.filter(t => t.startsWith(prefix)).every(t => t.includes(part));
}"""
INSIDE_SHOWN_JS = """() => {
    const texts = Array.from(document.querySelectorAll('[data-testid=stImageCaption]'), c => c.innerText);
    return texts.filter(t => t.startsWith('channel ')).length === 32 && !texts.some(t => t.startsWith('#'));
}"""
POINTS_JS = """() => Array.from(document.querySelectorAll('.vega-embed path[aria-label*="index: "]'), p => {
    const r = p.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    return {index: Number(/index: (\\d+)/.exec(p.getAttribute('aria-label'))[1]), x, y, top: document.elementFromPoint(x, y) === p};
})"""
EDGE_MARGIN_PX = 5
GALLERY_LIMIT = 48  # the Explain page's SELECTED_SHOWN
EVALUATE_GALLERY = 24


def shots() -> Path:
    folder = ROOT / "artifacts" / "explain"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page, name: str) -> None:
    """The whole page, once every gallery image has decoded pixels (the shared check asks only that loading ended)."""
    browser_support.snap(page, name, shots(), images_loaded=IMAGES_LOADED_JS)


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        page.screenshot(path=shots() / f"failure_{request.node.name}.png")


@pytest.fixture(scope="module")
def explained(server, tmp_path_factory):
    """The trained run, put into the app server's runs folder, and what the library says of its val split."""
    _, runs = server
    run = trained_explain_run(tmp_path_factory)
    shutil.copytree(run.dir, runs / run.id)
    loaded = load_run_model(RunStore(runs).get(run.id), "best")
    images, labels, indices = split_images(loaded.config, load_cifar("synthetic"), "val")
    return evaluate(loaded, images, labels, indices), images


def choose_view(page, view: str, shown_text: str) -> None:
    page.locator('[data-testid="stRadio"]').get_by_text(view, exact=True).click()
    page.get_by_text(shown_text).first.wait_for(timeout=180_000)
    settle(page)
    page.wait_for_function(IMAGES_LOADED_JS)


CAPTIONS_JS = """() => Array.from(document.querySelectorAll('[data-testid=stImageCaption]'), c => {
    const r = c.closest('[data-testid=stImage]').getBoundingClientRect();
    return [Math.round(r.top), Math.round(r.left), c.innerText];
})"""


def captions(page, prefix: str = "#") -> list[str]:
    """Image captions in reading order, by their pictures' place on the screen (rows first)."""
    return [text for _, _, text in sorted(page.evaluate(CAPTIONS_JS)) if text.startswith(prefix)]


def caption_indices(page) -> list[int]:
    return [int(re.match(r"#(\d+) ", text).group(1)) for text in captions(page)]


def fetched_image(page, index: int = 0) -> np.ndarray:
    """The pixels of the page's ``index``-th st.image as the browser received them."""
    source = page.locator('[data-testid="stImage"] img').nth(index).evaluate("i => i.src")  # absolute
    return np.asarray(Image.open(io.BytesIO(page.request.get(source).body())).convert("RGB")).astype(int)


def random_png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def saliency_shows(page, evaluation, images, index: int) -> None:
    """Saliency is on image ``index``: its number, its pixels (the picture the browser received), both maps, right captions."""
    row = evaluation.indices.tolist().index(index)
    item = evaluation.describe(row)
    page.get_by_text(f"image {index} of the val split").wait_for(timeout=120_000)
    assert page.get_by_label(re.compile("^Image number in the source")).input_value() == str(index)
    page.get_by_text(f"Evidence for its answer, {item['predicted']}").wait_for()
    verdict = "right" if item["predicted"] == item["true"] else "wrong"
    page.get_by_text(f"Evidence for the true class, {item['true']}").wait_for()
    assert f"the answer is {verdict}" in page.locator("body").inner_text()
    settle(page)
    page.wait_for_function(IMAGES_LOADED_JS)
    assert page.locator('[data-testid="stImage"] img').count() == 3
    shown = fetched_image(page, 0)
    # that image, not a neighbour, pixel for pixel: pictures go out as PNG (JPEG smeared a noisy one by 3.8 levels)
    assert np.array_equal(shown, np.asarray(upscale(images[row], 8)).astype(int))


def test_saliency_mistakes_suspects_and_feature_maps(server, page, explained):
    url, _ = server
    evaluation, _ = explained
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Explain")
    page.get_by_text("Evidence for its answer").wait_for(timeout=180_000)
    settle(page)
    page.wait_for_function(IMAGES_LOADED_JS)
    widths = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=stImage] img'), i => i.getBoundingClientRect().width)")
    assert len(widths) == 3 and max(widths) - min(widths) < 2 and min(widths) > 200  # three equal, large pictures
    snap(page, "1_saliency")

    wrong = evaluation.n - int((evaluation.preds == evaluation.labels).sum())
    choose_view(page, "Every mistake", "mistakes on")
    assert f"{wrong} of the {wrong} mistakes on {evaluation.n} val images" in page.locator("body").inner_text()
    expected = mistakes(evaluation)
    assert caption_indices(page) == [item["index"] for item in expected[:24]]
    snap(page, "2_mistakes")
    before = page.evaluate(IMAGE_SOURCES_JS)
    page.get_by_text("Grad-CAM on each").click()
    page.wait_for_function(ALL_REPLACED_JS, arg=before, timeout=120_000)  # every picture now blended with its map
    snap(page, "3_mistakes_gradcam")

    choose_view(page, "Suspect labels", "suspects among")
    page.wait_for_function(EVERY_CAPTION_JS, arg=["#", " labelled "])  # the mistakes gallery is gone
    suspects = captions(page)
    assert suspects and all(re.match(r"#\d+ labelled \w+, model says \w+ \(label quality 0\.\d\d\)$", text) for text in suspects)
    snap(page, "4_suspects")

    choose_view(page, "Inside the CNN", "Stage 4, 4×4")
    page.wait_for_function(INSIDE_SHOWN_JS)  # every tile drawn, the suspects gone
    assert len(captions(page, "channel ")) == 4 * 8
    snap(page, "5_inside_the_cnn")


def box_around(points: list[dict], seed: dict, plot: dict) -> tuple[float, float, float, float]:
    """A box around ``seed`` holding 3 to 48 point centres with none near its edges, inside the plot area."""
    for half in range(15, 400, 5):
        x0, y0 = max(seed["x"] - half, plot["x"] + 2), max(seed["y"] - half, plot["y"] + 2)
        x1, y1 = min(seed["x"] + half, plot["x"] + plot["width"] - 2), min(seed["y"] + half, plot["y"] + plot["height"] - 2)
        inside = [p for p in points if x0 < p["x"] < x1 and y0 < p["y"] < y1]
        near = [
            p
            for p in points
            if min(abs(p["x"] - x0), abs(p["x"] - x1)) < EDGE_MARGIN_PX or min(abs(p["y"] - y0), abs(p["y"] - y1)) < EDGE_MARGIN_PX
        ]
        if len(inside) > GALLERY_LIMIT:
            break
        if len(inside) >= 3 and not near:
            return x0, y0, x1, y1
    pytest.fail(f"no clean box of 3 to {GALLERY_LIMIT} points around image {seed['index']}")


def test_hovering_the_map_shows_a_thumbnail_and_a_box_opens_a_gallery_of_exactly_its_images(server, page, explained):
    url, _ = server
    evaluation, images = explained
    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Explain")
    page.get_by_text("Evidence for its answer").wait_for(timeout=180_000)
    choose_view(page, "Embedding map", "drag across the map")
    chart = page.locator(".vega-embed").first
    page.locator('.vega-embed path[aria-label*="index: "]').nth(evaluation.n - 1).wait_for(state="attached")
    snap(page, "6_embedding_map")

    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    points = page.evaluate(POINTS_JS)
    assert sorted(p["index"] for p in points) == sorted(evaluation.indices.tolist())  # one point per image of the split

    # hover: a point drawn on top of the others shows its thumbnail, enlarged, with its prediction
    rows = {index: row for row, index in enumerate(evaluation.indices.tolist())}
    wrong = {int(evaluation.indices[row]) for row in range(evaluation.n) if evaluation.preds[row] != evaluation.labels[row]}
    target = next(p for p in points if p["top"] and p["index"] in wrong)  # a mistake: the prediction differs from the class
    page.mouse.move(target["x"] - 20, target["y"] - 20)
    page.mouse.move(target["x"], target["y"], steps=4)
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.locator("img").wait_for(timeout=10_000)
    item = evaluation.describe(rows[target["index"]])
    text = tooltip.inner_text()
    confidence = float(evaluation.probs[rows[target["index"]]].max())
    assert re.search(rf"index\s+{target['index']}\b", text) and re.search(rf"true class\s+{item['true']}", text)
    assert re.search(rf"prediction\s+{re.escape(item['predicted'])} \({confidence:.0%}\)", text), text
    thumbnail = tooltip.locator("img")
    assert thumbnail.evaluate("i => [i.naturalWidth, Math.round(i.getBoundingClientRect().width)]") == [32, THUMBNAIL_SHOWN_PX]
    data = base64.b64decode(thumbnail.get_attribute("src").split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    distances = [np.abs(pixels - to_hwc(image).astype(int)).mean() for image in images]
    assert int(np.argmin(distances)) == rows[target["index"]]  # the thumbnail is that image (JPEG, so the nearest one)
    page.screenshot(path=shots() / "7_hover_thumbnail.png")

    # a box dragged across the map: the gallery holds exactly the images whose points lie inside it
    plot = chart.locator("path.background").first.bounding_box()
    x0, y0, x1, y1 = box_around(points, target, plot)
    inside = sorted(p["index"] for p in points if x0 < p["x"] < x1 and y0 < p["y"] < y1)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    page.get_by_text(re.compile(r"images? in the box")).wait_for(timeout=120_000)
    settle(page)
    page.wait_for_function(IMAGES_LOADED_JS)
    assert f"{len(inside)} image{'s' if len(inside) != 1 else ''} in the box" in page.locator("body").inner_text()
    assert sorted(caption_indices(page)) == inside
    page.screenshot(path=shots() / "8_box_selection.png")
    snap(page, "9_selection_gallery")

    # each image of the gallery opens under Saliency
    first = caption_indices(page)[0]
    page.get_by_role("button", name="Explain", exact=True).first.click()
    saliency_shows(page, evaluation, images, first)


def test_a_confusion_cell_on_evaluate_opens_explain_on_the_chosen_image(server, page, explained):
    url, _ = server
    evaluation, images = explained
    classes = list(evaluation.classes)
    pairs = most_confused_pairs(evaluation.confusion, evaluation.classes)
    assert pairs, "the run made no mistakes to click on"
    pair = pairs[1] if len(pairs) > 1 else pairs[0]  # the second pair: only a click shows it (the dropdowns open on the first)
    true_class, predicted_class = classes.index(pair["true"]), classes.index(pair["predicted"])

    page.goto(url)
    page.get_by_text("Samples per class").wait_for(timeout=120_000)
    open_page(page, "Evaluate")
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=180_000)
    settle(page)
    click_cell(page, true_class, predicted_class)
    page.get_by_text(f"{pair['true']} images the model called {pair['predicted']}").wait_for(timeout=120_000)
    settle(page)
    cell = evaluation.cell(true_class, predicted_class, limit=EVALUATE_GALLERY)
    buttons = page.get_by_role("button", name="Explain", exact=True)
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(buttons).to_have_count(len(cell), timeout=60_000)  # every image of the cell's gallery links to Explain
    snap(page, "10_evaluate_cell_gallery")

    buttons.first.click()  # the gallery's first image: the most confident mistake of that cell
    page.get_by_role("heading", name="Explain", exact=True).first.wait_for()
    saliency_shows(page, evaluation, images, cell[0]["index"])
    snap(page, "11_explain_from_evaluate")

    # the upload box on Evaluate leads to Explain too, with the uploaded picture
    open_page(page, "Evaluate")
    page.get_by_text("Try your own image").wait_for(timeout=120_000)
    page.locator('[data-testid="stFileUploader"] input[type=file]').last.set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": random_png()}]
    )
    page.get_by_role("button", name="Explain this picture").click(timeout=120_000)
    page.get_by_role("heading", name="Explain", exact=True).first.wait_for()
    page.get_by_text("photo.png (64×48 PNG)").wait_for(timeout=120_000)
    page.get_by_text("Evidence for its answer").wait_for()
    assert page.get_by_role("radio", name="an uploaded picture").is_checked()
    snap(page, "12_explain_from_evaluate_upload")
