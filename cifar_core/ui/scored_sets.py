"""The labelled image sets a run can be scored on, offered alike by Evaluate and Explain.

A set is ``(source, split)``: ``OWN`` stands for the run's own source (``val``: the images it held
out, ``test``: its source's test split); any other source is a separate set typed on Evaluate or
loaded on the Dataset page, scored on the whole of one of its labelled splits. Explain opens on
the set Evaluate scored last, so an image found on Evaluate is explained among its own set.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cifar_core.app.sources import SYNTHETIC, check_source
from cifar_core.data import CifarData
from cifar_core.errors import CifarError, DataError
from cifar_core.evaluate import labelled_splits
from cifar_core.ui import browser, state
from cifar_core.ui.loaders import load_data

OWN = "__run__"  # the run's own source in the set choices
OTHER_SOURCE = "_evaluate_other_source"  # the set typed in Evaluate's path box
IMAGES = "evaluate_images"  # Evaluate's chosen set (a widget key)


def source_name(source: str) -> str:
    """A source as users know it: its file or folder name (widget labels show no Markdown)."""
    return "the SYNTHETIC demo set" if source == SYNTHETIC else f"“{Path(source).name}”"


def open_source(source: str) -> tuple[CifarData | None, str | None]:
    """The loaded source, or the sentence saying why it is no labelled set (it may still be predicted)."""
    try:
        return load_data(source), None
    except DataError as exc:
        return None, str(exc)


def typed_source() -> str | None:
    """The set typed in Evaluate's path box, this session's or (after a reload) the one this browser saved, checked again."""
    if OTHER_SOURCE not in st.session_state:
        saved = browser.saved(OTHER_SOURCE)
        try:
            st.session_state[OTHER_SOURCE] = check_source(saved) if isinstance(saved, str) else None
        except CifarError:
            st.session_state[OTHER_SOURCE] = None  # moved or no longer allowed: forgotten, not shown as an error
    return st.session_state[OTHER_SOURCE]


def other_sources(own_source: str) -> list[str]:
    """Sets besides the run's own: one typed on Evaluate and the Dataset page's source."""
    others = [typed_source(), state.data_source()]
    return list(dict.fromkeys(other for other in others if other and other != own_source))


def choices(own_source: str, own_test: bool) -> dict[tuple[str, str], str]:
    """What can be scored: the run's validation images, its source's test images, other labelled sets."""
    # short enough not to be cut in a narrow select box; the boxes' help says these were held out from training
    offered = {(OWN, "val"): "This run's validation images"}
    if own_test:
        offered[(OWN, "test")] = f"The test images of this run's data ({source_name(own_source)})"
    for source in other_sources(own_source):
        data, _ = open_source(source)
        for split in labelled_splits(data) if data is not None else []:
            offered[(source, split)] = f"The {len(data.splits[split]):,} {split} images of {source_name(source)}"
    return offered
