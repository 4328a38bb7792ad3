"""Dataset: what is loaded, how it is balanced, what its images look like; and where to load from."""

import streamlit as st
import torch

from cifar_core.app.sources import SYNTHETIC, allowed_roots, check_source, default_source
from cifar_core.data.loader import load_cifar, project_data_dir
from cifar_core.figures.images import grid
from cifar_core.figures.runs import class_balance_figure
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import load_data
from cifar_core.ui.pixels import show_pixels

SAMPLES_PER_CLASS = 10
UNLABELLED_SAMPLES = 30
FORMAT_NAMES = {
    "torchvision": "torchvision's python batches",
    "kaggle": "Kaggle competition files",
}


def format_name(data) -> str:
    """The source's format in words; image folders named by the splits they hold (a test set is ``test/<class>/``)."""
    if data.format == "image_folder":
        return " and ".join(f"{split}/<class>/" for split in data.splits) + " image folders"
    return FORMAT_NAMES.get(data.format, data.format)


def uses_sentence(data) -> str | None:
    """What a source that is not a full labelled train + test set can be used for, in one sentence."""
    can_train, can_test = data.has_labels("train"), data.has_labels("test")
    if not can_train and can_test:
        return "This source holds only test images: no model can train on it, but the Evaluate page can score a trained run on them."
    if not can_train:
        return (
            "This source has no labels: no model can train on it or be scored on it, but the Evaluate page "
            "can predict its images and download the answers as submission.csv."
        )
    if "test" not in data.splits:
        return "This source has no test split: models are scored on a held-out validation part of train."
    if not can_test:
        return (
            "Its test images have no labels: models are scored on a held-out validation part of train, and "
            "the Evaluate page can predict the test images as submission.csv."
        )
    return None


st.title("Dataset")
st.markdown(
    "CIFAR-10 is 60,000 tiny colour photos, 32×32 pixels each, in ten classes: airplane, automobile, "
    "bird, cat, deer, dog, frog, horse, ship, truck. A model only ever sees these 3,072 numbers per image, "
    "which is why a cat and a dog seen from afar can look alike to it. Every class has the same number "
    "of images, so plain accuracy is a fair score."
)

source = state.data_source()
data = None
with user_errors("Could not load the data: "):
    data = load_data(source)

if data is not None:
    if data.is_synthetic:
        st.warning(
            "**SYNTHETIC demo set — this is not CIFAR-10.** Each class is a drawn shape with its own colour, "
            "so models train in seconds and you can try every page without the real data.",
            icon=":material/science:",
        )
    else:
        st.success(
            f"**CIFAR-10** from `{data.source}` ({format_name(data)}).",
            icon=":material/dataset:",
        )
    st.caption(f"Why this source: {state.data_source_reason()}.")
    description = data.describe()
    columns = st.columns(len(description["splits"]) + 1)
    for column, (name, split) in zip(columns, description["splits"].items()):
        column.metric(f"{name} images", f"{split['count']:,}")
    columns[-1].metric("classes", len(data.classes))
    if (sentence := uses_sentence(data)) is not None:
        st.info(sentence, icon=":material/info:")

    st.subheader("Class balance")
    per_split = {name: split["per_class"] for name, split in description["splits"].items()}
    st.plotly_chart(class_balance_figure(per_split), key="class_balance")

    st.subheader("Samples per class")
    left, right = st.columns([1, 3])
    split_name = left.selectbox("Split", list(data.splits), **state.persist("dataset_split", "train"))
    seed = right.number_input("Sample seed (change it to see other images)", step=1, **state.persist_number("dataset_seed", 0, min_value=0))
    split = data.splits[split_name]
    generator = torch.Generator().manual_seed(int(seed))
    if not data.has_labels(split_name):
        chosen = torch.randperm(len(split), generator=generator)[:UNLABELLED_SAMPLES]
        show_pixels(st, grid(split.images[chosen], columns=SAMPLES_PER_CLASS, scale=3, padding=3), caption="unlabelled images")
    for label, name in enumerate(data.classes):
        members = (split.labels == label).nonzero().flatten()
        if not len(members):
            continue
        chosen = members[torch.randperm(len(members), generator=generator)[:SAMPLES_PER_CLASS]]
        show_pixels(st, grid(split.images[chosen], columns=SAMPLES_PER_CLASS, scale=3, padding=3), caption=name)

st.divider()
st.subheader("Change the data source")
roots = allowed_roots()
st.markdown(
    "Type the path of a CIFAR-10 folder or archive: torchvision's `cifar-10-batches-py` (or "
    "`cifar-10-python.tar.gz`), Kaggle's `train.7z` + `trainLabels.csv`, or `train/<class>/` image folders. "
    + ("On this server, paths must lie inside: " + ", ".join(f"`{root}`" for root in roots) + "." if roots else "")
)
path_text = st.text_input("Folder or archive path", placeholder=str(roots[0] if roots else project_data_dir()), key="dataset_path")
starting = default_source()
if source != starting.source and st.button(f"Back to the starting source ({starting.source})", icon=":material/undo:"):
    state.set_data_source(starting.source, starting.reason)
    st.rerun()
load_column, synthetic_column, download_column = st.columns(3)
if load_column.button("Load this path", type="primary", icon=":material/folder_open:"):
    with user_errors():
        chosen = check_source(path_text)
        load_data(chosen)
        state.set_data_source(chosen, "typed on the Dataset page")
        st.rerun()
if synthetic_column.button("Use the SYNTHETIC demo set", icon=":material/science:"):
    state.set_data_source(SYNTHETIC, "chosen on the Dataset page")
    st.rerun()
if download_column.button(
    "Download CIFAR-10",
    icon=":material/download:",
    help=f"Fetches torchvision's copy (170 MB, needs internet) into {project_data_dir()}; "
    "offline you get a message saying what to put there.",
):
    with user_errors(), st.status("Downloading CIFAR-10 and decoding it…", expanded=True) as status:
        st.write(f"Target folder: `{project_data_dir()}`. This takes a minute or two on a fast connection.")
        downloaded = load_cifar(None, download=True)
        status.update(label="CIFAR-10 downloaded.", state="complete")
        state.set_data_source(downloaded.source, "downloaded from the Dataset page")
        st.rerun()
