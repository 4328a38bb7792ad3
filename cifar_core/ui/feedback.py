"""Showing users the errors they can act on as a sentence, never as a traceback."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import streamlit as st

from cifar_core.errors import CifarError

# Characters Streamlit's Markdown eats inside a sentence: ``*`` (emphasis, e.g. in ``test/*/*.jpg``) and
# ``$`` (a formula). Intraword ``_`` (``aug_p``) is not emphasis, so it is left alone.
_MARKDOWN_SPECIAL = re.compile(r"([*$])")


def plain(text: str) -> str:
    """``text`` escaped so that Markdown shows its stars and dollar signs."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def show_error(message: str) -> None:
    """``st.error`` with the message shown exactly as written."""
    st.error(plain(message))


@contextlib.contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Show a ``CifarError`` raised inside the block with ``st.error`` and carry on with the page.

    Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except CifarError as exc:
        show_error(f"{prefix}{exc}")
