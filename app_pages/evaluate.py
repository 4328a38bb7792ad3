"""Evaluate: what the selected run's model gets right and wrong, image by image."""

import streamlit as st

from cifar_core.evaluate import most_confused_pairs
from cifar_core.images import upscale
from cifar_core.inference import TTA_MODES
from cifar_core.plots import confusion_figure, per_class_frame, probability_figure
from cifar_core.runs import RunStore
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import checkpoint_stamp, has_labelled_test, load_data, load_model, score_split
from cifar_core.uploads import MAX_UPLOAD_BYTES, prepare_upload

GALLERY = 24
GALLERY_COLUMNS = 6
PAIRS = 6
TTA_LABELS = {"none": "none", "flip": "mirror", "flip_shift": "mirror + shifts"}


def _gallery(scored, true_class: int, predicted_class: int) -> None:
    """The images of one confusion cell, most confidently wrong first, with their top-3 guesses."""
    evaluation = scored.evaluation
    wrong = evaluation.misclassified(true_class, predicted_class, limit=GALLERY)
    classes = evaluation.classes
    if true_class == predicted_class:
        st.caption("That is a diagonal cell: those images were classified correctly. Pick two different classes.")
        return
    if not wrong:
        st.caption(f"No {classes[true_class]} image was taken for a {classes[predicted_class]}.")
        return
    total = int(evaluation.confusion[true_class, predicted_class])
    shown = f"the {len(wrong)} most confident of **{total}**" if total > len(wrong) else f"all **{total}**"
    st.markdown(f"Showing {shown} {classes[true_class]} images the model called *{classes[predicted_class]}*:")
    columns = st.columns(GALLERY_COLUMNS)
    for position, item in enumerate(wrong):
        guesses = " · ".join(f"{name} {p:.0%}" for name, p in item["top3"])
        columns[position % GALLERY_COLUMNS].image(upscale(scored.images[item["row"]], 4), caption=guesses)


def _upload_section(loaded) -> None:
    st.subheader("Try your own image")
    st.markdown(
        "Upload a photo of one of the ten classes. It is cropped to a square and shrunk to 32×32 pixels: "
        "exactly what the model sees, and a reminder of how little detail it has to go on."
    )
    upload = st.file_uploader(f"Image (PNG, JPEG, GIF, BMP, WebP or TIFF; up to {MAX_UPLOAD_BYTES // 2**20} MB)", key="evaluate_upload")
    if upload is None:
        return
    with user_errors():
        prepared = prepare_upload(upload.getvalue(), upload.name)
        probabilities = loaded.probabilities(prepared.tensor.unsqueeze(0))[0]
        ranked = {loaded.classes[i]: float(p) for i, p in enumerate(probabilities)}
        best = max(ranked, key=ranked.get)
        seen, chart = st.columns([1, 2])
        seen.image(upscale(prepared.tensor, 8), caption=f"What the model sees (from a {prepared.original_size[0]}×{prepared.original_size[1]} {prepared.format})")
        chart.metric("Prediction", best, f"{ranked[best]:.0%} sure", delta_color="off")
        chart.plotly_chart(probability_figure(ranked, height=320), key="evaluate_upload_probs")


st.title("Evaluate")
st.markdown(
    "Accuracy is one number; the **confusion matrix** shows where the mistakes go. Each row is a true "
    "class and each column what the model said. Mistakes cluster between classes that look alike at "
    "32×32 pixels: cats and dogs (both furry, four-legged, similar poses and backgrounds), automobiles "
    "and trucks, or frogs taken for birds when a green blob sits on a branch. Click through a cell to "
    "see the images behind the number."
)
run_id = state.selected_run_id()
store = RunStore()
run = None
with user_errors():
    run = store.get(run_id) if run_id else None
if run is None:
    st.info("No run selected: train one on the Train page, then pick it in the sidebar.")
    st.stop()

controls = st.columns(3)
which = controls[0].radio("Checkpoint", ["best", "last"], horizontal=True, key=state.sticky("evaluate_checkpoint", "best"),
                          help="best: the epoch with the highest validation accuracy; last: the latest epoch.")
scored = loaded = None
with user_errors():
    stamp = checkpoint_stamp(run, which)
    loaded = load_model(str(run.dir), which, stamp)
    data = load_data(loaded.config.data)
    splits = ["val", "test"] if has_labelled_test(data) else ["val"]
    split = controls[1].radio("Split", splits, horizontal=True, key=f"evaluate_split_{'vt' if len(splits) > 1 else 'v'}",
                              help="val: the images this run held out from training; test: the source's separate test set.")
    if len(splits) == 1:
        controls[1].caption("This source has no labelled test split.")
    tta = controls[2].radio(
        "Test-time augmentation", TTA_MODES, horizontal=True, format_func=lambda mode: TTA_LABELS.get(mode, mode),
        key=state.sticky("evaluate_tta", "none"),
        help="Average the model's answers over views that keep the class: the mirror image (2 passes), "
        "or the mirror image and one-pixel shifts (6 passes). Often a point or more of accuracy, for more compute.",
    )
    scored = score_split(str(run.dir), which, stamp, split, tta)
if scored is None:
    st.stop()

evaluation = scored.evaluation
data_name = "SYNTHETIC demo set" if scored.data.is_synthetic else f"CIFAR-10 ({scored.data.source})"
st.caption(f"Run `{run.id}` · {loaded.config.model} · epoch {loaded.epoch} · {split} split of the {data_name}")
metrics = st.columns(3)
metrics[0].metric("Accuracy", f"{evaluation.accuracy:.1%}")
metrics[1].metric("Loss", f"{evaluation.loss:.3f}")
metrics[2].metric("Images", f"{evaluation.n:,}")

st.subheader("Per class")
st.markdown("**Precision**: when the model says *cat*, how often it is a cat. **Recall**: of all cats, how many it finds. **F1** balances the two.")
st.dataframe(
    per_class_frame(evaluation.per_class()),
    hide_index=True,
    column_config={name: st.column_config.ProgressColumn(name, format="percent", min_value=0, max_value=1) for name in ("precision", "recall", "f1")},
    key="evaluate_per_class",
)

st.subheader("Confusion matrix")
normalize = st.toggle("Row-normalised (share of each true class)", key=state.sticky("evaluate_normalize", False))
confusion = evaluation.confusion
st.plotly_chart(confusion_figure(confusion, evaluation.classes, normalize=normalize), key="evaluate_confusion")

pairs = most_confused_pairs(confusion, evaluation.classes)
left, right = st.columns([1, 2], gap="large")
with left:
    st.markdown("**Most confused pairs**")
    if pairs:
        st.markdown(
            "\n".join(
                f"{rank}. **{pair['true']}** taken for **{pair['predicted']}**: {pair['count']} image{'s' if pair['count'] != 1 else ''} ({pair['rate']:.0%} of {pair['true']})"
                for rank, pair in enumerate(pairs[:PAIRS], start=1)
            )
        )
    else:
        st.caption("No mistakes at all.")
with right:
    st.markdown("**Look inside a cell**")
    classes = list(evaluation.classes)
    default_true, default_pred = (classes.index(pairs[0]["true"]), classes.index(pairs[0]["predicted"])) if pairs else (0, 1)
    pick_true, pick_pred = st.columns(2)
    true_class = pick_true.selectbox("True class", range(len(classes)), index=default_true, format_func=classes.__getitem__, key="evaluate_true")
    predicted_class = pick_pred.selectbox("Predicted as", range(len(classes)), index=default_pred, format_func=classes.__getitem__, key="evaluate_pred")
_gallery(scored, true_class, predicted_class)

st.divider()
_upload_section(loaded)
