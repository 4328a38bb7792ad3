"""CIFAR Explorer: train, compare and understand CIFAR-10 classifiers.

Run with ``streamlit run streamlit_app.py``. This file only declares the pages and draws the
shared sidebar; each page lays out widgets and calls ``cifar_core``. To add a page, add one
``st.Page`` line to ``PAGES``.

The pages live in ``app_pages/``, not ``pages/``: Streamlit (1.67) still treats a ``pages/``
folder beside the entry script as an old-style multipage app in some runs (every ``AppTest``
rerun, a server's first run), executing the page without this file and so without the shared sidebar.
"""

import streamlit as st

from cifar_core.ui.sidebar import render_sidebar

PAGES = [
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/photo_library:", default=True),
    st.Page("app_pages/augmentation_lab.py", title="Augmentation lab", icon=":material/tune:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/list_alt:"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/troubleshoot:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("app_pages/explain.py", title="Explain", icon=":material/visibility:"),
    st.Page("app_pages/robustness.py", title="Robustness", icon=":material/shield:"),
    st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:"),
]

st.set_page_config(page_title="CIFAR Explorer", page_icon=":material/grid_view:", layout="wide")
page = st.navigation(PAGES)
render_sidebar()
page.run()
