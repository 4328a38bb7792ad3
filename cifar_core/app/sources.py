"""Which data sources a user may type in the app, and which one it opens with.

On someone's own machine a typed path may be any dataset its user can read. A served deployment
sets ``CIFAR_EXPLORER_DATA_ROOTS`` (see docs/serving.md): then a typed path must resolve (symlinks
followed) inside those folders and ``..`` is refused outright. Either way the source given in
``CIFAR_EXPLORER_DATA`` can always be opened again, and ``synthetic`` is always allowed: it reads no
files. The policy itself lives in ``cifar_core.data.access``, which the loader applies to every
source however it arrives; this module only turns typed text into a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cifar_core.data.access import DEFAULT_ENV, ROOTS_ENV, allowed_roots, is_readable, outside_sentence, project_data_dir
from cifar_core.data.synthetic import SOURCE as SYNTHETIC
from cifar_core.errors import DataError

__all__ = ["DEFAULT_ENV", "ROOTS_ENV", "SYNTHETIC", "DefaultSource", "allowed_roots", "check_path", "check_source", "default_source"]


def check_source(text: str, roots: list[Path] | None = None) -> str:
    """A user-typed data source as a value safe to hand to ``load_cifar``, or a ``DataError``."""
    if text.strip().lower() == SYNTHETIC:
        return SYNTHETIC
    if not text.strip():
        raise DataError("Type the path of a CIFAR-10 folder or archive, or 'synthetic'.")
    return str(check_path(text, roots, what="data path"))


def check_path(text: str, roots: list[Path] | None = None, *, what: str = "path") -> Path:
    """A user-typed path, resolved, readable under the policy and existing; else a ``DataError``.

    Relative paths are taken relative to the first allowed root (without roots: the project's
    data/ folder). Sentences repeat what was typed, never where a link leads.
    """
    roots = allowed_roots() if roots is None else [Path(root).resolve() for root in roots]
    text = text.strip()
    if not text:
        raise DataError(f"The {what} is empty.")
    if "\x00" in text:
        raise DataError(f"The {what} contains a NUL character.")
    shown = text if len(text) <= 200 else text[:200] + "…"
    raw = Path(text).expanduser()
    if roots and ".." in raw.parts:
        raise DataError(f"The {what} {shown!r} contains '..'; type the full path instead.")
    resolved = (raw if raw.is_absolute() else (roots[0] if roots else project_data_dir()) / raw).resolve()
    if not is_readable(resolved, roots):
        raise DataError(outside_sentence(shown, roots))
    try:
        exists = resolved.exists()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise DataError(f"The {what} {shown} cannot be opened: {exc.strerror or exc}.") from exc
    if not exists:
        raise DataError(f"{shown} does not exist.")
    return resolved


@dataclass(frozen=True)
class DefaultSource:
    """The source the app opens with, and a sentence saying why (shown to the user)."""

    source: str
    reason: str

    @property
    def is_synthetic(self) -> bool:
        return self.source == SYNTHETIC


def default_source() -> DefaultSource:
    """``$CIFAR_EXPLORER_DATA``, else the project's data/ folder if it holds anything, else synthetic."""
    configured = os.environ.get(DEFAULT_ENV, "").strip()
    if configured:
        return DefaultSource(configured, f"set by the {DEFAULT_ENV} environment variable")
    folder = project_data_dir()
    if folder.is_dir() and any(not entry.name.startswith(".") for entry in folder.iterdir()):
        return DefaultSource(str(folder.resolve()), "the project's data/ folder")
    return DefaultSource(
        SYNTHETIC,
        f"no CIFAR-10 was found in {folder}, so the small SYNTHETIC demo set is loaded instead. "
        "To use real CIFAR-10, put it in that folder (torchvision's cifar-10-batches-py, Kaggle's "
        f"train.7z + trainLabels.csv, or train/<class>/ image folders), set {DEFAULT_ENV}, or use "
        "the download button on the Dataset page",
    )
