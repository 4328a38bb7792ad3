"""Showing users the errors they can act on as a sentence, never as a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from cifar_core.errors import CifarError


@contextlib.contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Show a ``CifarError`` raised inside the block with ``st.error`` and carry on with the page.

    Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except CifarError as exc:
        st.error(f"{prefix}{exc}")
