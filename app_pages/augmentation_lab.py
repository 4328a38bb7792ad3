"""Augmentation lab: see exactly what each augmentation does to real training images."""

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
from cifar_core.figures.images import grid, outline_box, upscale
from cifar_core.figures.runs import probability_figure
from cifar_core.train import TrainConfig
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import load_data

SAMPLES = 16
COLUMNS = 4
SCALE = 4
HANDOFF = "lab_handoff"  # read by the Train page
STUDY_OPS = TrainConfig().augment_ops


def _next_seed() -> None:
    st.session_state["lab_seed"] = int(st.session_state["lab_seed"]) + 1


def _study_probabilities() -> None:
    st.session_state["lab_aug_p"] = TrainConfig.aug_p
    st.session_state["lab_mix_p"] = TrainConfig.mix_p


def _op_controls(op: str) -> dict:
    """The on/off switch and parameter widgets of one op; returns its parameters."""
    defaults = default_params(op)
    on = st.toggle(f"Use {OP_TITLES[op]}", **state.persist(f"lab_on_{op}", op in STUDY_OPS))
    if op == "rotation":
        mode = st.radio(
            "Angles",
            ["Right angles", "Any angle in a range"],
            **state.persist("lab_rot_mode", "Right angles"),
            horizontal=True,
            disabled=not on,
        )
        if mode == "Right angles":
            angles = st.multiselect(
                "Choose among", [90, 180, 270], **state.persist("lab_rot_angles", [int(a) for a in defaults["angles"]]), disabled=not on
            )
            params = {"angles": angles}
        else:
            low, high = st.slider("Degrees", -180, 180, **state.persist("lab_rot_degrees", (-30, 30)), disabled=not on)
            params = {"degrees": [low, high]}
    elif op == "resized_crop":
        low, high = st.slider(
            "Crop area (share of the image)",
            0.05,
            1.0,
            step=0.01,
            **state.persist("lab_crop_scale", tuple(defaults["scale"])),
            disabled=not on,
        )
        params = {"scale": [low, high]}
    elif op == "translate":
        tx = st.slider(
            "Largest sideways shift (share of width)",
            0.0,
            0.5,
            step=0.01,
            **state.persist("lab_tx", defaults["translate"][0]),
            disabled=not on,
        )
        ty = st.slider(
            "Largest up/down shift (share of height)",
            0.0,
            0.5,
            step=0.01,
            **state.persist("lab_ty", defaults["translate"][1]),
            disabled=not on,
        )
        params = {"translate": [tx, ty]}
    elif op == "cutout":
        params = {"size": st.slider("Square side (pixels)", 1, 32, **state.persist("lab_cutout", defaults["size"]), disabled=not on)}
    elif op in ("cutmix", "mixup"):
        help_text = "Beta(α, α): small α gives mostly small or mostly large shares; α = 1 is uniform."
        params = {
            "alpha": st.slider(
                "α (mixing strength)",
                0.05,
                2.0,
                step=0.05,
                **state.persist(f"lab_alpha_{op}", defaults["alpha"]),
                help=help_text,
                disabled=not on,
            )
        }
    else:
        params = {}
    return params if on else None


st.title("Augmentation lab")
st.markdown(
    "**Data augmentation** shows the model slightly changed copies of its training images: turned, "
    "cropped, shifted, or with a patch of another image pasted in (**CutMix**, whose label is then mixed "
    "in proportion to the pasted area). A cat is still a cat when it is rotated, so the model is pushed "
    "to learn what a cat looks like instead of memorising the exact pixels of each training photo. "
    "That makes training harder and the model better on images it has never seen: it **regularizes**. "
    "Each operation is applied to each image independently, with the probability you set."
)

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

controls, main = st.columns([1, 3], gap="large")
with controls:
    st.subheader("Samples")
    mode = st.radio("Which images", ["Random", "One class"], **state.persist("lab_mode", "Random"), horizontal=True)
    chosen_class = None
    if mode == "One class":
        chosen_class = st.selectbox("Class", data.classes, **state.persist("lab_class", data.classes[3]))
    seed = st.number_input("Seed", min_value=0, step=1, **state.persist("lab_seed", 0))
    st.button("Resample (new seed)", on_click=_next_seed, icon=":material/casino:")

    st.subheader("How often")
    aug_p = st.slider("aug_p: chance of each standard op", 0.0, 1.0, step=0.01, **state.persist("lab_aug_p", 0.5))
    mix_p = st.slider("mix_p: chance of CutMix / MixUp", 0.0, 1.0, step=0.01, **state.persist("lab_mix_p", 0.25))
    st.button(
        f"Study values ({TrainConfig.aug_p:.0%} / {TrainConfig.mix_p:.0%})",
        on_click=_study_probabilities,
        help="The study found small probabilities work best for its CNN: most images pass unchanged.",
    )

    st.subheader("Operations")
    params_by_op = {}
    for op in OP_NAMES:
        with st.expander(OP_TITLES[op], expanded=op in ("rotation", "cutmix")):
            op_params = _op_controls(op)
        if op_params is not None:
            params_by_op[op] = op_params
    settings = LabSettings(aug_p=aug_p, mix_p=mix_p, ops=list(params_by_op), params=params_by_op)

result = None
with main, user_errors():
    label = None if chosen_class is None else data.classes.index(chosen_class)
    indices = pick_samples(train.labels, SAMPLES, int(seed), label)
    originals, labels = train.images[indices], train.labels[indices]
    result = preview(originals, labels, settings, int(seed))

if result is not None:
    with controls:
        if st.button("Train with these settings", type="primary", icon=":material/arrow_forward:"):
            st.session_state[HANDOFF] = settings.train_fields()
            st.switch_page("app_pages/train.py")
    with main:
        changed = sum(bool(record["ops"]) for record in result.records)
        st.markdown(f"**{changed} of {len(indices)}** images changed. Left: original · right: what the model trains on.")
        for position, record in enumerate(result.records):
            if position % COLUMNS == 0:
                columns = st.columns(COLUMNS)  # one row at a time, so rows line up whatever the captions' length
            pair = grid(torch.stack([originals[position], result.images[position]]), columns=2, scale=SCALE, padding=6)
            weights = " · ".join(f"{name} {weight:.0%}" for name, weight in label_weights(record, data.classes).items())
            columns[position % COLUMNS].image(
                pair, caption=f"#{position + 1} {data.classes[int(labels[position])]}: {describe_record(record)}. Label: {weights}"
            )

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
        view_a.image(upscale(originals[a], SCALE + 2), caption=f"A: {names[a]}")
        view_b.image(upscale(originals[b], SCALE + 2), caption=f"B: {names[b]}")
        view_mixed.image(
            outline_box(upscale(mixed.images[0], SCALE + 2), box, SCALE + 2),
            caption=f"A with B's patch pasted: rows {box[0]}–{box[2] - 1}, columns {box[1]}–{box[3] - 1} "
            f"({box[2] - box[0]}×{box[3] - box[1]} px)",
        )
        view_label.plotly_chart(
            probability_figure(label_weights(record, data.classes), title="Soft label", height=220), key="lab_soft_label"
        )
