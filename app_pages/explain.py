"""Explain: why the selected run's model answers as it does: saliency, every mistake, the embedding
map, suspect labels and, for the small CNNs, what each stage sees.

Other pages open this one on an image by setting ``st.session_state[state.EXPLAIN_REQUEST] =
{"run_id", "source", "split", "index"}`` (``index``: the image's position in the source's
``split``, as the Evaluate galleries and ``mistakes --json`` give it; the run's held-out images
lie in its source's ``train`` split; optional ``upload``: the bytes of an uploaded picture, with
``name``) and calling ``st.switch_page("app_pages/explain.py")``. An image of another source than
the run's (a separate test set scored on Evaluate) is carried over as a picture.

The images explained are any set Evaluate can score (``cifar_core.ui.scored_sets``); the page
opens on the set Evaluate scored last.
"""

from pathlib import Path

import streamlit as st
import torch

from cifar_core.app.uploads import MAX_UPLOAD_MB, prepare_upload
from cifar_core.data import CifarData
from cifar_core.errors import DataError
from cifar_core.evaluate import source_split_images
from cifar_core.explain import charts
from cifar_core.explain.embedding import embedding_map, stored_embedding
from cifar_core.explain.features import first_layer_filters, stage_maps
from cifar_core.explain.label_issues import label_issues
from cifar_core.explain.mistakes import mistakes, page, page_count
from cifar_core.explain.saliency import overlay, saliency
from cifar_core.explain.scope import SplitImages, source_size
from cifar_core.figures.images import upscale
from cifar_core.models import MODEL_REGISTRY
from cifar_core.runs import RunStore
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import checkpoint_stamp, load_data, load_model, score_split, scored_before, selected_run_or_stop
from cifar_core.ui.pixels import show_pixels
from cifar_core.ui.recompute import ResultSlot
from cifar_core.ui.scored_sets import IMAGES as EVALUATE_IMAGES
from cifar_core.ui.scored_sets import OWN, choices

REQUEST = state.EXPLAIN_REQUEST
_FOCUS = "_explain_focus"
_CARRIED_UPLOAD = "_explain_carried_upload"
_CARRIED_IMAGE = "_explain_carried_image"
_PENDING = "_explain_pending_image"
_FOLLOWED = "_explain_followed_evaluate"  # the Evaluate set this page last switched to
IMAGES = "explain_images"
VIEWS = ("Saliency", "Every mistake", "Embedding map", "Suspect labels", "Inside the CNN")
FROM_SPLIT, FROM_UPLOAD, FROM_ELSEWHERE = "an image of the split", "an uploaded picture", "the image sent from Evaluate"
METHOD_LABELS = {"gradcam": "Grad-CAM", "occlusion": "Occlusion"}
COLUMNS = 6
SELECTED_SHOWN = 48
SUSPECTS_SHOWN = 24
WEAK_MODEL = 0.8  # below this accuracy the suspects list says it is mostly the model's own mistakes


def _take_request() -> None:
    """Turn another page's request into this page's widget values (the run first, via the sidebar)."""
    request = st.session_state.pop(REQUEST, None)
    if isinstance(request, dict):
        st.session_state[_FOCUS] = {**request, "asked": False}
    focus = st.session_state.get(_FOCUS)
    if not focus:
        return
    run_id = focus.get("run_id")
    if run_id and run_id != state.selected_run_id():
        if focus["asked"]:  # the sidebar did not take it: the run is gone
            st.session_state.pop(_FOCUS)
            st.error(f"Run {run_id} is not in the runs folder any more, so its image cannot be shown.")
            return
        focus["asked"] = True
        state.select_run(run_id)
        st.rerun()
    st.session_state.pop(_FOCUS)
    st.session_state["explain_view"] = "Saliency"
    if focus.get("upload"):
        st.session_state[_CARRIED_UPLOAD] = (bytes(focus["upload"]), str(focus.get("name") or "the uploaded picture"))
        st.session_state["explain_from"] = FROM_UPLOAD
        return
    st.session_state[_PENDING] = focus  # placed by _place_image once the run's source is loaded


def _place_image(own: CifarData) -> None:
    """Point the widgets at the requested image: one of the run's own splits, or a picture from another source."""
    focus = st.session_state.pop(_PENDING, None)
    if not focus:
        return
    source, split, index = focus.get("source"), focus.get("split"), focus.get("index")
    if source and source != own.source:  # a separate set scored on Evaluate: its indices are not this source's
        with user_errors():
            data = load_data(source)
            images, labels, _ = source_split_images(data, split)
            if not isinstance(index, int) or not 0 <= index < len(labels):
                raise DataError(f"Image {index} is not in the {split} split of {data.source} ({len(labels):,} images).")
            name = "the SYNTHETIC demo set" if data.is_synthetic else Path(data.source).name
            st.session_state[_CARRIED_IMAGE] = (images[index], int(labels[index]), f"image {index} of the {split} split of {name}")
            st.session_state["explain_from"] = FROM_ELSEWHERE
        return
    if split in ("train", "val", "test"):  # Evaluate names the run's held-out images by the split they lie in: train
        st.session_state[IMAGES] = (OWN, "test" if split == "test" else "val")
    if isinstance(index, int):
        st.session_state["explain_index"] = index
    st.session_state["explain_from"] = FROM_SPLIT


def _focus_on(index: int) -> None:
    """Gallery button callback: show this image under Saliency."""
    st.session_state.update(explain_index=index, explain_view="Saliency", explain_from=FROM_SPLIT)


def _captioned_gallery(items: list[dict], images, caption, button_key: str, overlays=None) -> None:
    """Images in rows of six, each with a caption and an "Explain" button.

    One ``st.columns`` per row, so a row starts below the longest caption of the row before and the
    pictures and buttons line up (six long columns drift apart when captions wrap differently).
    """
    for position, item in enumerate(items):
        if position % COLUMNS == 0:
            columns = st.columns(COLUMNS)
        column = columns[position % COLUMNS]
        picture = overlays[position] if overlays is not None else upscale(images[item["row"]], 4)
        show_pixels(column, picture, caption=caption(item), width="stretch")
        column.button("Explain", key=f"{button_key}_{item['index']}", on_click=_focus_on, args=(item["index"],))


# what a gallery's captions say, in one line above the gallery (the captions themselves stay short)
MISTAKE_KEY = (
    "Under each image: #N, its number in the source it comes from (the same number finds it again); its true class; "
    "after → the model's three best guesses with their probabilities."
)
SUSPECT_KEY = (
    "Under each image: #N, its number in the source it comes from; the label it was given; the class the model says; "
    "in brackets cleanlab's label-quality score, from 0 (the label looks wrong) to 1 (it looks right)."
)


def _top3(item: dict) -> str:
    return " · ".join(f"{name} {p:.0%}" for name, p in item["top3"])


def _choose_image(split: SplitImages, classes: tuple[str, ...]):
    """The image to explain: (uint8 [3, 32, 32], true class or None, words naming it), or None."""
    carried = st.session_state.get(_CARRIED_IMAGE)
    origins = (FROM_SPLIT, FROM_UPLOAD, FROM_ELSEWHERE) if carried else (FROM_SPLIT, FROM_UPLOAD)
    if st.session_state.get("explain_from") not in (None, *origins):
        st.session_state["explain_from"] = FROM_SPLIT
    origin = st.radio("Explain", origins, horizontal=True, **state.persist("explain_from", FROM_SPLIT))
    if origin == FROM_ELSEWHERE:
        return carried
    if origin == FROM_UPLOAD:
        upload = st.file_uploader(  # the browser refuses a bigger file, naming this cap (as on Evaluate)
            f"Picture (PNG, JPEG, GIF, BMP, WebP or TIFF; up to {MAX_UPLOAD_MB} MB)", key="explain_upload", max_upload_size=MAX_UPLOAD_MB
        )
        data, name = (upload.getvalue(), upload.name) if upload is not None else st.session_state.get(_CARRIED_UPLOAD, (None, None))
        if data is None:
            st.caption("Upload a picture of one of the ten classes; it is cropped square and shrunk to 32×32.")
            return None
        if upload is None:
            st.caption(f"Showing {name}, sent from Evaluate; upload another picture to explain that instead.")
        true = st.selectbox(
            "What it really shows (optional)",
            [None, *range(len(classes))],
            key="explain_upload_truth",
            format_func=lambda c: "not said" if c is None else classes[c],
        )
        with user_errors():
            prepared = prepare_upload(data, name)
            return prepared.tensor, true, f"{name} ({prepared.original_size[0]}×{prepared.original_size[1]} {prepared.format})"
        return None
    first = int(split.indices[0]) if len(split.indices) else 0
    asked = st.session_state.get("explain_index")
    if not isinstance(asked, int) or not 0 <= asked < split.source_size:
        if asked is not None:
            st.error(f"Image {asked} is not in this source (its images are numbered 0 to {split.source_size - 1}); showing image {first}.")
        st.session_state["explain_index"] = first
    index = st.number_input(
        f"Image number in the source (this {split.name} split holds {len(split.indices):,} of {split.source_size:,})",
        min_value=0,
        max_value=max(split.source_size - 1, 0),
        step=1,
        key="explain_index",
        help="The number the galleries and the Evaluate page use for an image.",
    )
    with user_errors():
        row = int(split.rows([int(index)])[0])
        return split.images[row], int(split.labels[row]), f"image {int(index)} of the {split.name} split"
    return None


def _saliency_view(loaded, split: SplitImages) -> None:
    chosen = _choose_image(split, loaded.classes)
    if chosen is None:
        return
    image, true, name = chosen
    controls = st.columns(2)
    method = controls[0].radio(
        "Method", tuple(METHOD_LABELS), horizontal=True, format_func=METHOD_LABELS.get, **state.persist("explain_method", "gradcam")
    )
    alpha = controls[1].slider("Heat-map opacity", 0.0, 1.0, step=0.05, **state.persist("explain_alpha", 0.5))
    probabilities = loaded.probabilities(image.unsqueeze(0))[0]
    predicted = int(probabilities.argmax())
    with user_errors():
        maps = saliency(
            loaded.model,
            loaded.config.model,
            image.unsqueeze(0),
            probabilities.argmax().view(1),
            None if true is None else torch.tensor([true]),
            method,
        )
        shown = st.columns(3)
        show_pixels(shown[0], upscale(image, 8), caption=f"{name}: the 32×32 pixels the model sees", width="stretch")
        show_pixels(
            shown[1],
            overlay(image, maps.predicted[0], 8, alpha),
            caption=f"Evidence for its answer, {loaded.classes[predicted]} ({probabilities[predicted]:.0%})",
            width="stretch",
        )
        if maps.true is not None:
            verdict = "right" if predicted == true else "wrong"
            show_pixels(
                shown[2],
                overlay(image, maps.true[0], 8, alpha),
                caption=f"Evidence for the true class, {loaded.classes[true]} ({probabilities[true]:.0%}; the answer is {verdict})",
                width="stretch",
            )
        else:
            shown[2].caption("Say what the picture really shows to see the evidence for that class too.")
        empty = [loaded.classes[c] for c, one in ((predicted, maps.predicted), (true, maps.true)) if one is not None and one.max() == 0]
        if empty:
            st.info(
                f"{METHOD_LABELS[method]} finds no positive evidence for {' or '.join(dict.fromkeys(empty))} in this image "
                "(every weighted feature map points against it), so that map is dark; the other method may show more."
            )
        top = probabilities.topk(3)
        st.markdown("Top guesses: " + " · ".join(f"**{loaded.classes[int(i)]}** {float(p):.0%}" for p, i in zip(top.values, top.indices)))
        st.caption(
            "Bright = the pixels this class's score rests on most. **Grad-CAM** weighs the last convolutional stage's "
            "feature maps by how much they raise the class score (coarse: that stage sees 8×8 cells). **Occlusion** "
            "hides 8×8 grey patches one at a time and records how far the class probability drops: slower, no gradients."
        )


def _mistakes_view(loaded, scored, split: SplitImages) -> None:
    evaluation, classes = scored.evaluation, scored.evaluation.classes
    filters = st.columns(4)
    anyone = [None, *range(len(classes))]
    true_class = filters[0].selectbox(
        "True class", anyone, key="explain_mistakes_true", format_func=lambda c: "any" if c is None else classes[c]
    )
    predicted_class = filters[1].selectbox(
        "Predicted as", anyone, key="explain_mistakes_pred", format_func=lambda c: "any" if c is None else classes[c]
    )
    found = mistakes(evaluation, true_class, predicted_class)
    pages = page_count(len(found))
    number = filters[2].number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key="explain_mistakes_page")
    with_maps = filters[3].toggle(
        "Grad-CAM on each", key="explain_mistakes_saliency", help="Blend each image with the map of the class it was taken for."
    )
    wrong = evaluation.n - int((evaluation.preds == evaluation.labels).sum())
    st.markdown(
        f"**{len(found):,}** of the **{wrong:,}** mistakes on {evaluation.n:,} {split.name} images match, most confident first "
        f"(accuracy {evaluation.accuracy:.1%})."
    )
    shown = page(found, int(number) - 1)
    if not shown:
        st.caption("No mistakes match these filters.")
        return
    overlays = None
    if with_maps:
        with user_errors():
            rows = torch.tensor([item["row"] for item in shown])
            maps = saliency(loaded.model, loaded.config.model, scored.images[rows], evaluation.preds[rows], None, "gradcam")
            overlays = [overlay(scored.images[row], one, 4) for row, one in zip(rows.tolist(), maps.predicted)]
    st.caption(MISTAKE_KEY)
    _captioned_gallery(shown, scored.images, lambda item: f"#{item['index']} {item['true']} → {_top3(item)}", "explain_mistake", overlays)


@st.cache_resource(show_spinner="Drawing thumbnails for the map…", max_entries=4)
def _thumbnails(run_dir: str, which: str, stamp: int, source: str | None, split: str) -> list[str]:
    return charts.thumbnail_urls(score_split(run_dir, which, stamp, source, split).images)


def _embedding_view(run, which: str, stamp: int, loaded, scored, split: SplitImages, source: str | None) -> None:
    st.markdown(
        "Each dot is one image, placed by the network's last hidden layer (PCA, then t-SNE): images the network "
        "treats alike sit together. Colour = true class; **+** = a mistake. Where two colours mix (often cats and dogs) "
        "the model cannot tell them apart. Hover over a dot to see its picture and the prediction; drag a box to list "
        "the images inside (double-click the map to clear the box)."
    )
    # Vega's tooltip shows each point's 32x32 thumbnail (the chart's "image" field); this enlarges it in the browser.
    st.html(charts.TOOLTIP_CSS)
    data_source = source or loaded.config.data
    with user_errors():
        points = stored_embedding(run, which, data_source, split)
        slot = ResultSlot(points is None, "Preparing the embedding map…")  # the bar takes the old map's and box's place
        if points is None:
            points = embedding_map(run, which, data_source, loaded, split, slot.progress)
        with slot.area():
            frame = charts.embedding_frame(points, loaded.classes, _thumbnails(str(run.dir), which, stamp, source, split.name))
            event = st.altair_chart(
                charts.embedding_chart(frame, loaded.classes), on_select="rerun", selection_mode=charts.SELECTION, key="explain_map"
            )
            chosen = charts.selected_rows(points, event)
            if not len(chosen):
                st.caption("No box drawn yet: drag across the map to select images.")
                return
            evaluation = scored.evaluation
            st.markdown(
                f"**{len(chosen):,}** image{'s' if len(chosen) != 1 else ''} in the box"
                + (f"; the first {SELECTED_SHOWN} shown:" if len(chosen) > SELECTED_SHOWN else ":")
            )
            items = [evaluation.describe(int(row)) for row in chosen[:SELECTED_SHOWN]]
            st.caption(MISTAKE_KEY)
            _captioned_gallery(items, scored.images, lambda item: f"#{item['index']} {item['true']} → {_top3(item)}", "explain_selected")


@st.cache_resource(show_spinner="Looking for suspect labels (cleanlab)…", max_entries=8)
def _suspects(run_dir: str, which: str, stamp: int, source: str | None, split: str) -> list[dict]:
    return label_issues(score_split(run_dir, which, stamp, source, split).evaluation, split)


def _suspects_view(run, which: str, stamp: int, scored, split: SplitImages, source: str | None) -> None:
    st.markdown(
        "Images whose given label this model disputes, found by cleanlab from its predictions on images it never "
        "trained on. These are **suspects for a person to check, not facts**: CIFAR-10 has a few mislabelled images, "
        "but a model that is still learning disputes many correct labels too."
    )
    with user_errors():
        suspects = _suspects(str(run.dir), which, stamp, source, split.name)
        if not suspects:
            st.caption("No suspect labels on this split.")
            return
        accuracy = scored.evaluation.accuracy
        st.markdown(
            f"**{len(suspects):,}** suspects among {len(split.labels):,} images; the {min(len(suspects), SUSPECTS_SHOWN)} most suspect:"
        )
        if accuracy < WEAK_MODEL:  # seen on a real-data run at 31%: 294 of 600 images "suspect"
            st.caption(
                f"This model is right on only {accuracy:.0%} of these images, so most suspects are likely its own mistakes "
                "rather than wrong labels; a better-trained run gives a shorter, more telling list."
            )
        st.caption(SUSPECT_KEY)
        _captioned_gallery(
            suspects[:SUSPECTS_SHOWN],
            scored.images,
            lambda item: f"#{item['index']} labelled {item['given']}, model says {item['suggested']} (label quality {item['score']:.2f})",
            "explain_suspect",
        )


def _inside_view(loaded, split: SplitImages) -> None:
    layers = MODEL_REGISTRY[loaded.config.model].explain
    if layers is None or not layers.stages:
        st.info(f"Feature maps are drawn for the small CNNs (simple_cnn, fast_cnn); this run's model is {loaded.config.model}.")
        return
    chosen = _choose_image(split, loaded.classes)
    if chosen is None:
        return
    image, _, name = chosen
    left, right = st.columns([1, 3])
    show_pixels(left, upscale(image, 8), caption=name, width="stretch")
    with user_errors():
        right.markdown(
            "**First-layer filters**: each colour patch is one filter of the first convolution, stretched to full "
            "contrast; the layer slides them over the image and responds where the pixels look like them."
        )
        show_pixels(right, charts.filter_sheet(first_layer_filters(loaded.model, loaded.config.model)))
        for stage in stage_maps(loaded.model, loaded.config.model, image):
            st.markdown(
                f"**{stage.caption}** The {len(stage.channels)} most active of its {stage.total_channels} channels (bright = strong):"
            )
            tiles = st.columns(len(stage.channels))
            for column, channel, activation in zip(tiles, stage.channels, stage.maps):
                show_pixels(column, charts.activation_tile(activation), caption=f"channel {channel}", width="stretch")


st.title("Explain")
st.markdown(
    "Why does the model say what it says? See which pixels an answer rests on, browse every mistake, see how "
    "the network arranges the images, find labels it disputes, and look inside the small CNN."
)
_take_request()
store = RunStore()
run = selected_run_or_stop(store)

controls = st.columns([1, 2, 2])
which = controls[0].radio("Checkpoint", ["best", "last"], horizontal=True, **state.persist("explain_checkpoint", "best"))
scored = loaded = split = stamp = source = slot = None
with user_errors():
    stamp = checkpoint_stamp(run, which)
    loaded = load_model(str(run.dir), which, stamp)
    data = load_data(loaded.config.data)
    scored_on_evaluate = st.session_state.get(EVALUATE_IMAGES)
    if scored_on_evaluate is not None and scored_on_evaluate != st.session_state.get(_FOLLOWED):  # Evaluate scored another set since
        st.session_state[_FOLLOWED] = st.session_state[IMAGES] = scored_on_evaluate
    _place_image(data)
    offered = choices(loaded.config.data, data.has_labels("test"))
    keep = state.persist(IMAGES, (OWN, "val"))
    if st.session_state[IMAGES] not in offered:  # not offered for this run (no test split, a set no longer loaded)
        st.session_state[IMAGES] = (OWN, "val")
    chosen, split_name = controls[1].selectbox(
        "Images",
        list(offered),
        format_func=offered.get,
        **keep,
        help=(
            "Any set the Evaluate page can score: this run's validation images (held out from its training), "
            "its source's test set, or a separate set."
        ),
    )
    source = None if chosen == OWN else chosen
    slot = ResultSlot(not scored_before(str(run.dir), which, stamp, source, split_name), "Scoring the images…")
    scored = score_split(
        str(run.dir),
        which,
        stamp,
        source,
        split_name,
        progress=lambda done, total: slot.progress(done / total, f"Scoring {done:,} of {total:,} images…"),
    )
    evaluation = scored.evaluation
    split = SplitImages(split_name, scored.images, evaluation.labels, evaluation.indices, source_size(scored.data, split_name))
if split is None:
    st.stop()
data_name = "SYNTHETIC demo set" if scored.data.is_synthetic else f"CIFAR-10 ({scored.data.source})"
controls[2].caption(f"Run `{run.id}` · {loaded.config.model} · epoch {loaded.epoch} · {split.name} split of the {data_name}")

with slot.area():  # in the scoring bar's place: another set's or run's view is gone while this one is scored
    view = st.radio("Show", VIEWS, horizontal=True, **state.persist("explain_view", VIEWS[0]), label_visibility="collapsed")
    st.divider()
    if view == "Saliency":
        _saliency_view(loaded, split)
    elif view == "Every mistake":
        _mistakes_view(loaded, scored, split)
    elif view == "Embedding map":
        _embedding_view(run, which, stamp, loaded, scored, split, source)
    elif view == "Suspect labels":
        _suspects_view(run, which, stamp, scored, split, source)
    else:
        _inside_view(loaded, split)
