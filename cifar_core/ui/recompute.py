"""One place on a page for a result that may have to be computed again, with its progress bar.

While a script runs, the browser keeps showing the previous run's elements until the new run
writes over them, so a result computed under a progress bar (an evaluation, an embedding map)
would sit under that bar looking current: run A's accuracy under "Scoring…" for run C. Here the
progress bar takes the result's own place, so the old result is gone the moment work starts;
the new result is then drawn in that place. When nothing has to be computed the result is drawn
in a plain container, which the browser fills in place of the old one without a flash.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


class ResultSlot:
    """Draw ``area()`` after ``progress(...)``; ``recompute`` says whether anything is computed first."""

    def __init__(self, recompute: bool, text: str):
        # an element (the bar) where the old result's container was: the browser drops that container
        # with everything in it, whereas a new container there would inherit the old one's contents
        self._slot = st.empty() if recompute else None
        if self._slot is not None:
            self._slot.progress(0.0, text=text)

    def progress(self, fraction: float, text: str) -> None:
        if self._slot is not None:
            self._slot.progress(min(1.0, max(0.0, fraction)), text=text)

    def area(self) -> DeltaGenerator:
        """The container the result is drawn in, in the place the bar held."""
        return self._slot.container() if self._slot is not None else st.container()
