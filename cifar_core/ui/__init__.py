"""Streamlit glue shared by several pages: session state, cached loaders, the sidebar, error display.

Only code that needs Streamlit lives here; anything testable without a browser belongs in the
Streamlit-free packages (``cifar_core.figures``, ``cifar_core.app``) that these helpers call.
"""
