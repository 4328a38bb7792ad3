"""Which data sources a user may load, for an app that strangers may share.

On a shared deployment a path text box is a file-system browser: without a policy anyone could
point the loader at ``/etc`` or at another user's files. So a typed path must resolve (symlinks
followed) inside one of the operator's allowed roots, ``..`` is refused outright, and the
operator's own default (``CIFAR_EXPLORER_DATA``) is trusted as given. ``synthetic`` is always
allowed: it reads no files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cifar_core.data.loader import project_data_dir
from cifar_core.data.synthetic import SOURCE as SYNTHETIC
from cifar_core.errors import DataError

ROOTS_ENV = "CIFAR_EXPLORER_DATA_ROOTS"
"""``os.pathsep``-separated folders a user may read data and weights from (default: the project's data/)."""
DEFAULT_ENV = "CIFAR_EXPLORER_DATA"
"""The source the app starts with: a path or ``synthetic``."""

__all__ = ["DEFAULT_ENV", "ROOTS_ENV", "SYNTHETIC", "DefaultSource", "allowed_roots", "check_path", "check_source", "default_source"]


def allowed_roots() -> list[Path]:
    """The resolved folders typed paths must stay inside."""
    configured = os.environ.get(ROOTS_ENV, "")
    roots = [Path(part).expanduser() for part in configured.split(os.pathsep) if part.strip()]
    return [root.resolve() for root in roots or [project_data_dir()]]


def check_source(text: str, roots: list[Path] | None = None) -> str:
    """A user-typed data source as a value safe to hand to ``load_cifar``, or a ``DataError``."""
    if text.strip().lower() == SYNTHETIC:
        return SYNTHETIC
    if not text.strip():
        raise DataError("Type the path of a CIFAR-10 folder or archive, or 'synthetic'.")
    return str(check_path(text, roots, what="data path"))


def check_path(text: str, roots: list[Path] | None = None, *, what: str = "path") -> Path:
    """A user-typed path resolved inside the allowed roots, or a ``DataError`` naming the problem.

    Relative paths are taken relative to the first allowed root. The path is resolved with
    symlinks followed, so a link inside a root that points outside it is refused too.
    """
    roots = allowed_roots() if roots is None else [Path(root).resolve() for root in roots]
    text = text.strip()
    if not text:
        raise DataError(f"The {what} is empty.")
    if "\x00" in text:
        raise DataError(f"The {what} contains a NUL character.")
    raw = Path(text).expanduser()
    if ".." in raw.parts:
        raise DataError(f"The {what} {text!r} contains '..'; type the full path instead.")
    resolved = (raw if raw.is_absolute() else roots[0] / raw).resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise DataError(
            f"{text} is outside the folders this app may read from ({allowed}); "
            f"ask the operator to add it to {ROOTS_ENV}."
        )
    if not resolved.exists():
        raise DataError(f"{resolved} does not exist.")
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
