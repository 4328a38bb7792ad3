"""Evaluate: what the selected run's model gets right and wrong, image by image, on any labelled set."""

import time
from pathlib import Path

import streamlit as st

from cifar_core.app.sources import check_source
from cifar_core.app.uploads import MAX_UPLOAD_MB, prepare_upload
from cifar_core.calibration import BINNING, reliability
from cifar_core.evaluate import labelled_splits, most_confused_pairs, predict_unlabelled
from cifar_core.figures.calibration import reliability_figure
from cifar_core.figures.images import upscale
from cifar_core.figures.runs import confusion_cell, confusion_figure, per_class_frame, probability_figure
from cifar_core.models.inference import TTA_MODES, TTA_PASSES
from cifar_core.runs import RunStore
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.ui import browser, state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import checkpoint_stamp, load_data, load_model, score_split, scored_before, selected_run_or_stop
from cifar_core.ui.pixels import show_pixels
from cifar_core.ui.recompute import ResultSlot
from cifar_core.ui.scored_sets import IMAGES, OTHER_SOURCE, OWN, choices, open_source, other_sources, source_name

GALLERY = 24
GALLERY_COLUMNS = 6
PAIRS = 6
TTA_LABELS = {"none": "none", "flip": "mirror", "flip_shift": "mirror + shifts"}
EXPLAIN_PAGE = Path(__file__).with_name("explain.py")
LAST_CLICK = "_evaluate_last_click"
CELL_SET = "_evaluate_cell_set"  # the scored set the cell dropdowns were chosen on
PREDICTIONS = "_evaluate_predictions"
UPLOAD_KEY = "evaluate_upload"


def _score_with_progress(run, which: str, stamp: int, source: str | None, split: str, tta: str):
    """Score, with a progress bar and a time estimate fed by every batch (TTA can take a minute).

    The bar takes the place of the results below it, so a previous run's or set's scores are gone
    the moment scoring starts; the slot it returns is where the new results are drawn."""
    started = time.monotonic()
    passes = TTA_PASSES[tta]
    how = "" if passes == 1 else f" with {TTA_LABELS[tta]} ({passes} passes per image)"
    slot = ResultSlot(not scored_before(str(run.dir), which, stamp, source, split, tta), f"Scoring the images{how}…")

    def report(done: int, total: int) -> None:
        left = (time.monotonic() - started) / done * (total - done)
        slot.progress(done / total, text=f"Scoring {done:,} of {total:,} images{how}: about {left:.0f} s left")

    scored = None
    with user_errors():
        scored = score_split(str(run.dir), which, stamp, source, split, tta, progress=report)
    return scored, slot


def _explain_button(column, run_id: str, scored, item: dict) -> None:
    """ "Explain": hand the image to the Explain page (only once that page exists)."""
    if not EXPLAIN_PAGE.exists():
        return
    # "Explain" alone: "Explain this image" is cut off in six columns; the tooltip says the rest
    if column.button("Explain", key=f"explain_{item['row']}", icon=":material/psychology:", help="Open this image on the Explain page"):
        st.session_state[state.EXPLAIN_REQUEST] = {
            "run_id": run_id,
            "source": scored.data.source,
            "split": scored.split,
            "index": item["index"],
        }
        st.switch_page("app_pages/explain.py")


def _gallery(run_id: str, scored, true_class: int, predicted_class: int) -> None:
    """Exactly the images of one confusion cell, most confident first, with their top-3 guesses."""
    evaluation = scored.evaluation
    items = evaluation.cell(true_class, predicted_class, limit=GALLERY)
    classes = evaluation.classes
    true_name, predicted_name = classes[true_class], classes[predicted_class]
    if not items:
        st.caption(f"No {true_name} image was called {predicted_name}.")
        return
    total = int(evaluation.confusion[true_class, predicted_class])
    shown = f"the {len(items)} most confident of **{total}**" if total > len(items) else f"all **{total}**"
    if true_class == predicted_class:
        st.markdown(f"Showing {shown} {true_name} images the model got right:")
    else:
        st.markdown(f"Showing {shown} {true_name} images the model called *{predicted_name}*:")
    columns = st.columns(GALLERY_COLUMNS)
    for position, item in enumerate(items):
        column = columns[position % GALLERY_COLUMNS]
        guesses = " · ".join(f"{name} {p:.0%}" for name, p in item["top3"])
        show_pixels(column, upscale(scored.images[item["row"]], 4), caption=guesses)
        _explain_button(column, run_id, scored, item)


def _upload_section(loaded) -> None:
    st.subheader("Try your own image")
    st.markdown(
        "Upload a photo of one of the ten classes. It is cropped to a square and shrunk to 32×32 pixels: "
        "exactly what the model sees, and a reminder of how little detail it has to go on."
    )
    # The browser refuses a file over the app's cap before sending it, in one sentence naming that cap
    # (without max_upload_size it named Streamlit's server cap, 25 MB, under a label saying 20 MB).
    upload = st.file_uploader(
        f"Image (PNG, JPEG, GIF, BMP, WebP or TIFF; up to {MAX_UPLOAD_MB} MB)", key=UPLOAD_KEY, max_upload_size=MAX_UPLOAD_MB
    )
    if upload is None:
        return
    with user_errors():
        prepared = prepare_upload(upload.getvalue(), upload.name)
        probabilities = loaded.probabilities(prepared.tensor.unsqueeze(0))[0]
        ranked = {loaded.classes[i]: float(p) for i, p in enumerate(probabilities)}
        best = max(ranked, key=ranked.get)
        seen, chart = st.columns([1, 2])
        show_pixels(
            seen,
            upscale(prepared.tensor, 8),
            caption=f"What the model sees (from a {prepared.original_size[0]}×{prepared.original_size[1]} {prepared.format})",
        )
        # plain text, not a metric's delta: a delta's arrow reads as a change since something
        chart.metric("Prediction", best)
        chart.caption(f"{ranked[best]:.0%} sure (chance is {1 / len(ranked):.0%}: a guess among {len(ranked)} classes)")
        chart.plotly_chart(probability_figure(ranked, height=320), key="evaluate_upload_probs")
        if EXPLAIN_PAGE.exists() and seen.button("Explain this picture", key="evaluate_upload_explain", icon=":material/psychology:"):
            st.session_state[state.EXPLAIN_REQUEST] = {"run_id": state.selected_run_id(), "upload": upload.getvalue(), "name": upload.name}
            st.switch_page("app_pages/explain.py")


def _other_source_box() -> None:
    """A path box for a separate labelled (or unlabelled) set, checked like every other source."""
    with st.expander("Score or predict another folder or archive"):
        st.markdown(
            "A separate test set: `test/<class>/` image folders (as a folder or archive), torchvision's "
            "`cifar-10-batches-py` with its test batch, Kaggle files with `trainLabels.csv`, or images "
            "without labels (Kaggle's `test.7z`, a folder of images) to predict."
        )
        text = st.text_input("Folder or archive path", key="evaluate_path")
        if st.button("Use this set", icon=":material/folder_open:"):
            with user_errors():
                source = check_source(text)
                st.session_state[OTHER_SOURCE] = source
                browser.remember(OTHER_SOURCE, source)
                data, _ = open_source(source)
                if data is not None and labelled_splits(data):  # scored at once; a set without labels goes to Predict
                    st.session_state[IMAGES] = (source, labelled_splits(data)[0])
                st.rerun()


def _predictable(source: str) -> bool:
    """A set to predict rather than score: images without labels, or a source with an unlabelled split."""
    data, _ = open_source(source)
    return data is None or any(not data.has_labels(split) for split in data.splits)


def _predict_section(loaded, own_source: str, tta: str) -> None:
    """Predict an unlabelled set (Kaggle's test.7z, a folder of images) and offer submission.csv."""
    st.subheader("Predict a set without labels")
    candidates = [source for source in other_sources(own_source) if _predictable(source)]
    if not candidates:
        st.caption(
            "Open Kaggle's test.7z or a folder or archive of images under \"Score or predict another folder or "
            'archive" above to predict every image and download the answers as submission.csv.'
        )
        return
    source = candidates[0]
    data, _ = open_source(source)
    if data is None or not labelled_splits(data):
        st.info(f"{source_name(source)} has no labels, so it cannot be scored, only predicted.")
    st.markdown(f"Writes the model's class for every image of {source_name(source)} as `id,label` lines, the Kaggle submission form.")
    if st.button("Predict every image", icon=":material/batch_prediction:"):
        st.session_state.pop(PREDICTIONS, None)
        status = st.empty()
        status.info(f"Predicting the images of {source_name(source)}…")
        with user_errors():
            predictions = predict_unlabelled(
                loaded, source, tta=tta, on_batch=lambda done, _: status.info(f"Predicted {done:,} images so far…")
            )
            st.session_state[PREDICTIONS] = (source, predictions)
        status.empty()
    kept = st.session_state.get(PREDICTIONS)
    if kept and kept[0] == source:
        predictions = kept[1]
        st.download_button(
            f"Download submission.csv ({len(predictions):,} predictions)",
            predictions.to_csv(),
            file_name="submission.csv",
            mime="text/csv",
            icon=":material/download:",
        )


st.title("Evaluate")
st.markdown(
    "Accuracy is one number; the **confusion matrix** shows where the mistakes go. Each row is a true "
    "class and each column what the model said. Mistakes cluster between classes that look alike at "
    "32×32 pixels: cats and dogs (both furry, four-legged, similar poses and backgrounds), automobiles "
    "and trucks, or frogs taken for birds when a green blob sits on a branch. Click a cell to "
    "see the images behind the number."
)
store = RunStore()
run = selected_run_or_stop(store)

if run.state in ACTIVE_STATES:
    doing = "still training" if run.state == "running" else "waiting to start training"
    st.info(f"Run {run.id} is {doing}: its scores change with every epoch.", icon=":material/hourglass_top:")
    if not st.toggle("Score its latest checkpoint anyway", key="evaluate_while_training"):
        st.stop()

controls = st.columns([1, 1, 2])
which = controls[0].radio(
    "Checkpoint",
    ["best", "last"],
    horizontal=True,
    **state.persist("evaluate_checkpoint", "best"),
    help="best: the epoch with the highest validation accuracy; last: the latest epoch.",
)
tta = controls[1].radio(
    "Test-time augmentation",
    TTA_MODES,
    horizontal=True,
    format_func=lambda mode: TTA_LABELS.get(mode, mode),
    **state.persist("evaluate_tta", "none"),
    help="Average the model's answers over views that keep the class: the mirror image (2 passes), "
    "or the mirror image and one-pixel shifts (6 passes). Often a point or more of accuracy, for more compute.",
)
scored = loaded = None
with user_errors():
    stamp = checkpoint_stamp(run, which)
    loaded = load_model(str(run.dir), which, stamp)
if loaded is None:
    st.stop()
own_test = False
with user_errors("Could not open this run's data: "):
    own_test = load_data(loaded.config.data).has_labels("test")
with controls[2]:
    _other_source_box()
offered = choices(loaded.config.data, own_test)
keep = state.persist(IMAGES, (OWN, "val"))  # the set stays chosen across runs, pages and reloads
if st.session_state[IMAGES] not in offered:  # not offered for this run (no test split): its validation images
    st.session_state[IMAGES] = (OWN, "val")
chosen = st.selectbox(
    "Images to score",
    list(offered),
    format_func=offered.get,
    **keep,
    help="This run's validation images were held out from its training; a test split was never trained on either.",
)
source, split = chosen
scored, slot = _score_with_progress(run, which, stamp, None if source == OWN else source, split, tta)
with slot.area():
    if scored is None:
        st.divider()
        _predict_section(loaded, loaded.config.data, tta)
        st.stop()

    evaluation = scored.evaluation
    scored_part = "validation images" if (source, split) == (OWN, "val") else f"{split} images"
    scored_source = "the SYNTHETIC demo set" if scored.data.is_synthetic else f"`{scored.data.source}`"
    st.caption(f"Run `{run.id}` · {loaded.config.model} · epoch {loaded.epoch} · {scored_part} of {scored_source}")
    metrics = st.columns(3)
    metrics[0].metric("Accuracy", f"{evaluation.accuracy:.1%}")
    metrics[1].metric("Loss", f"{evaluation.loss:.3f}")
    metrics[2].metric("Images", f"{evaluation.n:,}")

    st.subheader("Per class")
    st.markdown(
        "**Precision**: when the model says *cat*, how often it is a cat. **Recall**: of all cats, how many it finds. "
        "**F1** balances the two."
    )
    SHARES = ("precision", "recall", "f1")
    per_class = per_class_frame(evaluation.per_class())
    per_class[list(SHARES)] *= 100  # shown as 33.3%, one decimal like the accuracy above
    st.dataframe(
        per_class,
        hide_index=True,
        column_config={name: st.column_config.ProgressColumn(name, format="%.1f%%", min_value=0, max_value=100) for name in SHARES},
        key="evaluate_per_class",
    )

    st.subheader("Confusion matrix")
    normalize = st.toggle("Row-normalised (share of each true class)", **state.persist("evaluate_normalize", False))
    confusion = evaluation.confusion
    classes = list(evaluation.classes)
    event = st.plotly_chart(
        confusion_figure(confusion, classes, normalize=normalize), key="evaluate_confusion", on_select="rerun", selection_mode="points"
    )
    clicked = confusion_cell(event.selection, classes)
    if st.session_state.get(CELL_SET) != (run.id, which, tta, source, split):
        # another set (or model): its own most confused pair, not a cell chosen on the last one
        st.session_state[CELL_SET] = (run.id, which, tta, source, split)
        st.session_state.pop("evaluate_true", None)
        st.session_state.pop("evaluate_pred", None)
    if clicked is not None and clicked != st.session_state.get(LAST_CLICK):
        # a new click moves the dropdowns to its cell; a dropdown changed later wins until the next click
        st.session_state["evaluate_true"], st.session_state["evaluate_pred"] = clicked
    st.session_state[LAST_CLICK] = clicked

    pairs = most_confused_pairs(confusion, evaluation.classes)
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.markdown("**Most confused pairs**")
        if pairs:
            st.markdown(
                "\n".join(
                    f"{rank}. **{pair['true']}** taken for **{pair['predicted']}**: "
                    f"{pair['count']} image{'s' if pair['count'] != 1 else ''} ({pair['rate']:.0%} of {pair['true']})"
                    for rank, pair in enumerate(pairs[:PAIRS], start=1)
                )
            )
        else:
            st.caption("No mistakes at all.")
    with right:
        st.markdown("**Look inside a cell** (click one in the matrix, or pick the two classes)")
        default_true, default_pred = (classes.index(pairs[0]["true"]), classes.index(pairs[0]["predicted"])) if pairs else (0, 1)
        st.session_state.setdefault("evaluate_true", default_true)
        st.session_state.setdefault("evaluate_pred", default_pred)
        pick_true, pick_pred = st.columns(2)
        true_class = pick_true.selectbox("True class", range(len(classes)), format_func=classes.__getitem__, key="evaluate_true")
        predicted_class = pick_pred.selectbox("Predicted as", range(len(classes)), format_func=classes.__getitem__, key="evaluate_pred")
    _gallery(run.id, scored, true_class, predicted_class)

    st.subheader("Calibration")
    calibration = reliability(evaluation.probs, evaluation.labels)
    about, diagram = st.columns([1, 2], gap="large")
    about.markdown(
        f"**Expected calibration error: {calibration.ece:.3f}**\n\nDoes “90% sure” mean right 9 times in 10? The images are put "
        f"into {BINNING} by the model's top probability; ECE is the gap between each bin's accuracy and its mean confidence, "
        "weighted by the bin's images. Bars below the dashed diagonal are over-confident. Label smoothing and CutMix change it."
    )
    diagram.plotly_chart(reliability_figure(calibration), key="evaluate_reliability")

    st.divider()
    _predict_section(loaded, loaded.config.data, tta)
    st.divider()
    _upload_section(loaded)
