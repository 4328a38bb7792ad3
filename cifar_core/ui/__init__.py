"""Streamlit glue shared by several pages: session and per-browser state, cached loaders, the sidebar,
error display, who may manage a run, run estimates and the study pieces of the Experiments page.

Code here serves the pages and mostly calls Streamlit; logic worth testing without a browser belongs
in the Streamlit-free packages (``cifar_core.figures``, ``cifar_core.app``) that these modules call.
"""
