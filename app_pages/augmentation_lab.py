"""Augmentation lab: see exactly what each augmentation does to real training images."""

from dataclasses import replace

import streamlit as st
import torch

from cifar_core.app.lab import (
    OP_NAMES,
    OP_TITLES,
    LabSettings,
    cutmix_pair,
    default_params,
    describe_record,
    label_weights,
    pick_samples,
    preview,
)
from cifar_core.app.train_form import CUSTOM, KEY_PREFIX, form_config
from cifar_core.augment.ops import REGISTRY
from cifar_core.errors import ConfigError
from cifar_core.figures.images import grid, outline_box, upscale
from cifar_core.figures.runs import probability_figure
from cifar_core.study.published import lesson_takeaway
from cifar_core.train import TrainConfig
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import load_data
from cifar_core.ui.pixels import show_pixels

SAMPLES = 16
COLUMNS = 4
SCALE = 4
SEEDED_FROM = "lab_seeded_from"  # the Train form's augmentation the lab's widgets were last set from
BASELINE = "lab_baseline"  # what those widgets read right after, so only a real change is written to Train


def _next_seed() -> None:
    st.session_state["lab_seed"] = int(st.session_state["lab_seed"]) + 1


def _study_probabilities() -> None:
    st.session_state["lab_aug_p"] = TrainConfig.aug_p
    st.session_state["lab_mix_p"] = TrainConfig.mix_p


def _train_settings() -> tuple[LabSettings, str]:
    """The augmentation the next Start on Train trains, and where it comes from, in words."""
    form = state.train_form()
    try:
        config = form_config(form, None)
    except ConfigError:
        try:  # a model still being set up (MobileNetV3 without its weights file) changes nothing the lab shows
            config = form_config(replace(form, model=TrainConfig.model), None)
        except ConfigError as exc:
            return LabSettings.of(TrainConfig()), f"the study's defaults, because the Train form has a bad value ({exc})"
    if form.augment:
        origin = "the Train form's augmentation (set here in the lab)"
    elif form.preset != CUSTOM:
        origin = f"the augmentation of the **{form.preset}** recipe selected on Train"
    else:
        origin = "the Train form's augmentation"
    return LabSettings.of(config), origin


def _seed_widgets(train: LabSettings) -> None:
    """Put every widget at the Train form's augmentation (before the widgets are drawn)."""
    st.session_state["lab_aug_p"] = train.aug_p
    st.session_state["lab_mix_p"] = train.mix_p
    for op in OP_NAMES:
        st.session_state[f"lab_on_{op}"] = op in train.ops
        for suffix, value in train.widget_values(op).items():
            st.session_state[f"lab_{suffix}"] = value
    st.session_state[SEEDED_FROM] = train.train_fields()
    st.session_state.pop(BASELINE, None)


def _write_to_train(settings: LabSettings) -> None:
    """Make the lab's settings the Train form's augmentation: what its next Start trains."""
    fields = settings.train_fields()
    st.session_state[KEY_PREFIX + "aug_p"] = fields["aug_p"]
    st.session_state[KEY_PREFIX + "mix_p"] = fields["mix_p"]
    st.session_state[state.TRAIN_AUGMENT] = {"augment_ops": fields["augment_ops"], "augment_params": fields["augment_params"]}
    st.session_state[SEEDED_FROM] = fields
    st.session_state[BASELINE] = fields


def _op_controls(op: str, train: LabSettings) -> dict | None:
    """The on/off switch and parameter widgets of one op (drawn by its spec); its parameters, or None when off."""
    on = st.toggle(f"Use {OP_TITLES[op]}", **state.persist(f"lab_on_{op}", op in train.ops))
    params = REGISTRY[op].controls(st, lambda suffix, default: state.persist(f"lab_{suffix}", default), disabled=not on)
    return train.with_widgets(op, params) if on else None


st.title("Augmentation lab")
st.markdown(
    "**Data augmentation** shows the model slightly changed copies of its training images: turned, "
    "cropped, shifted, or with a patch of another image pasted in (**CutMix**, whose label is then mixed "
    "in proportion to the pasted area). A cat is still a cat when it is rotated, so the model is pushed "
    "to learn what a cat looks like instead of memorising the exact pixels of each training photo. "
    "That makes training harder and teaches the model to ignore those changes: it **regularizes**. "
    "Each operation is applied to each image independently, with the probability you set."
)


@st.cache_data(ttl=600, show_spinner=False)
def _lesson_takeaway() -> str:
    """The published lesson's sentence, cached: reading its CSV on every slider move would slow the redraw."""
    return lesson_takeaway()


st.info("**What it does to a model, measured here** (the lesson study on Experiments): " + _lesson_takeaway(), icon=":material/science:")

data = None
with user_errors("Could not load the data: "):
    data = load_data(state.data_source())
if data is None:
    st.stop()
if data.is_synthetic:
    st.caption("Showing the SYNTHETIC demo set (not CIFAR-10); load real data on the Dataset page.")
shown_split = next((split for split in ("train", "test") if data.has_labels(split)), None)
if shown_split is None:
    st.info(
        "This source has no labelled images to augment (its images have no classes): choose a source with "
        "training images on the Dataset page.",
        icon=":material/info:",
    )
    st.stop()
if shown_split != "train":
    st.caption("This source has no training images, so the lab shows its test images; training needs a source with training images.")
train = data.splits[shown_split]

train_settings, origin = _train_settings()
if st.session_state.get(SEEDED_FROM) != train_settings.train_fields():
    _seed_widgets(train_settings)
st.caption(f"Showing {origin}: a change here is what the next Start on Train trains.")

controls, main = st.columns([1, 3], gap="large")
with controls, st.container(height=640, border=False):  # scrolls beside the images instead of pushing them down
    st.subheader("Samples")
    mode = st.radio("Which images", ["Random", "One class"], **state.persist("lab_mode", "Random"), horizontal=True)
    chosen_class = None
    if mode == "One class":
        chosen_class = st.selectbox("Class", data.classes, **state.persist("lab_class", data.classes[3]))
    seed = st.number_input("Seed", step=1, **state.persist_number("lab_seed", 0, min_value=0))
    st.button("Resample (new seed)", on_click=_next_seed, icon=":material/casino:")

    st.subheader("How often")
    aug_p = st.slider("aug_p: chance of each standard op", 0.0, 1.0, step=0.01, **state.persist("lab_aug_p", train_settings.aug_p))
    mix_p = st.slider("mix_p: chance of CutMix / MixUp", 0.0, 1.0, step=0.01, **state.persist("lab_mix_p", train_settings.mix_p))
    st.button(
        f"Study values ({TrainConfig.aug_p:.0%} / {TrainConfig.mix_p:.0%})",
        on_click=_study_probabilities,
        help="The study found small probabilities work best for its CNN: most images pass unchanged.",
    )

    st.subheader("Operations")
    params_by_op = {}
    for op in OP_NAMES:
        with st.expander(OP_TITLES[op], expanded=op in train_settings.ops):
            op_params = _op_controls(op, train_settings)
        if op_params is not None:
            params_by_op[op] = op_params
    settings = LabSettings(aug_p=aug_p, mix_p=mix_p, ops=list(params_by_op), params=params_by_op)

result = None
with main, user_errors():
    label = None if chosen_class is None else data.classes.index(chosen_class)
    indices = pick_samples(train.labels, SAMPLES, int(seed), label)
    originals, labels = train.images[indices], train.labels[indices]
    result = preview(originals, labels, settings, int(seed))
    if BASELINE not in st.session_state:
        st.session_state[BASELINE] = settings.train_fields()
    elif settings.train_fields() != st.session_state[BASELINE]:
        _write_to_train(settings)

if result is not None:
    with controls:
        if st.button("Train with these settings", type="primary", icon=":material/arrow_forward:"):
            _write_to_train(settings)
            st.switch_page("app_pages/train.py")
    with main:
        changed = sum(bool(record["ops"]) for record in result.records)
        st.markdown(f"**{changed} of {len(indices)}** images changed. Left: original · right: what the model trains on.")
        for position, record in enumerate(result.records):
            if position % COLUMNS == 0:
                columns = st.columns(COLUMNS)  # one row at a time, so rows line up whatever the captions' length
            pair = grid(torch.stack([originals[position], result.images[position]]), columns=2, scale=SCALE, padding=6)
            weights = " · ".join(f"{name} {weight:.0%}" for name, weight in label_weights(record, data.classes).items())
            show_pixels(
                columns[position % COLUMNS],
                pair,
                caption=f"#{position + 1} {data.classes[int(labels[position])]}: {describe_record(record)}. Label: {weights}",
            )

        if "cutmix" in settings.ops:  # the close-up shows what the preview would do, so only while CutMix is on
            st.subheader("CutMix up close")
            st.markdown(
                "CutMix pastes a square patch of image B into image A (cut to a rectangle where it crosses the border). "
                "The label becomes a mix of both classes, "
                "weighted by how many pixels each contributes, so the model is taught to hedge exactly as much as "
                "the picture justifies."
            )
            names = [f"#{i + 1} {data.classes[int(labels[i])]}" for i in range(len(indices))]
            pick_a, pick_b = st.columns(2)
            # The browser keeps a selectbox's chosen label across reruns; keyed by the sample, a new sample
            # (Resample, One class) gets new dropdowns instead of "#1 automobile" over a ship.
            sample = f"{int(seed)}_{shown_split}_{label}"
            a = names.index(pick_a.selectbox("Image A", names, key=f"lab_cutmix_a_{sample}"))
            b = names.index(pick_b.selectbox("Image B", names, index=min(1, len(names) - 1), key=f"lab_cutmix_b_{sample}"))
            alpha = settings.params.get("cutmix", default_params("cutmix"))["alpha"]
            mixed = cutmix_pair(originals[a], int(labels[a]), originals[b], int(labels[b]), alpha, int(seed))
            record = mixed.records[0]
            box = record["ops"][0]["box"]
            view_a, view_b, view_mixed, view_label = st.columns([1, 1, 1, 1.4])
            show_pixels(view_a, upscale(originals[a], SCALE + 2), caption=f"A: {names[a]}")
            show_pixels(view_b, upscale(originals[b], SCALE + 2), caption=f"B: {names[b]}")
            show_pixels(
                view_mixed,
                outline_box(upscale(mixed.images[0], SCALE + 2), box, SCALE + 2),
                caption=f"A with B's patch pasted: rows {box[0]}–{box[2] - 1}, columns {box[1]}–{box[3] - 1} "
                f"({box[2] - box[0]}×{box[3] - box[1]} px)",
            )
            view_label.plotly_chart(
                probability_figure(label_weights(record, data.classes), title="Soft label", height=220), key="lab_soft_label"
            )
