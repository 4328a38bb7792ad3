"""Streamlit glue shared by several pages: session state, cached loaders, the sidebar, error display.

Only code that needs Streamlit lives here; anything testable without a browser belongs in the
library modules (``plots``, ``images``, ``uploads``, ``sources``) that these helpers call.
"""
