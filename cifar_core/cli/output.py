"""How every command writes its result: one strict JSON document on stdout, a closed pipe ends quietly,
and progress goes to stderr as a bar that ``--json`` into a pipe or file hides.

``print(json.dumps(...))`` let NaN and inf through as bare ``NaN`` (not JSON: ``json.load`` in another
language refuses it); ``emit_json`` turns them into ``null`` first and then dumps with
``allow_nan=False`` so nothing non-finite can slip through again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from typing import Any


def sanitise(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, tuples as lists, paths and numpy scalars as plain values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): sanitise(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitise(item) for item in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return sanitise(value.item())
    if hasattr(value, "tolist") and callable(value.tolist):  # arrays
        return sanitise(value.tolist())
    return str(value)


def emit_json(document: Any, indent: int | None = None) -> None:
    """Write ``document`` to stdout as one strict JSON document (one line unless ``indent`` is given)."""
    sys.stdout.write(json.dumps(sanitise(document), indent=indent, allow_nan=False) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """End quietly when the reader of stdout has gone (``cifar-explorer runs list --json | head -c 10``).

    stdout is pointed at /dev/null so the interpreter's final flush does not raise a second time.
    """
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


def quiet_progress(as_json: bool) -> bool:
    """Whether to hide a progress bar: with --json into a pipe or file, nobody watches stderr's bar."""
    return as_json and not sys.stderr.isatty()


def progress_bar(as_json: bool, **options: Any) -> Any:
    """A tqdm bar on stderr, hidden when ``quiet_progress``: every long command's bar behaves alike.

    tqdm is imported here, not at the top, because the quick commands import this module too.
    """
    from tqdm import tqdm

    return tqdm(file=sys.stderr, dynamic_ncols=True, disable=quiet_progress(as_json), **options)


class BarOnFirstReport:
    """A ``progress_bar`` that opens at the work's first report: a command refused by its checks prints only its sentence.

    Called as a library progress callback, ``(done, total)`` or ``(done, total, label)``; a negative total
    (``predict_unlabelled``'s: streamed images are only counted at the end) leaves the total open.
    """

    def __init__(self, as_json: bool, **options: Any) -> None:
        self.as_json, self.options, self.bar = as_json, options, None

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if self.bar is None:
            self.bar = progress_bar(self.as_json, **self.options)
        if total >= 0:
            self.bar.total = total
        if label is not None:
            self.bar.set_postfix_str(label, refresh=False)
        self.bar.update(done - self.bar.n)

    def __enter__(self) -> BarOnFirstReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()
