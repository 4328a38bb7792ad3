"""File-name rules shared by every layout: what counts as an image or an archive, ordering, sample ids."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg"})
ARCHIVE_SUFFIXES: tuple[str, ...] = (".tar.gz", ".tgz", ".tar", ".zip", ".7z")

_DIGITS = re.compile(r"(\d+)")


def is_image_name(name: str) -> bool:
    """True for file names whose suffix is one we decode (case-insensitive)."""
    return posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES


def archive_kind(name: str) -> str | None:
    """``"tar"``, ``"zip"`` or ``"7z"`` for a supported archive file name, else None."""
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(".7z"):
        return "7z"
    return None


def shown(name: str) -> str:
    """A file name fit for a message: bytes that are not UTF-8 (a Latin-1 name) shown as U+FFFD.

    Names keep the file system's bytes (as surrogates) so the file can be opened; a page or a
    terminal cannot print those, so messages use this form instead.
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def stem(name: str) -> str:
    """The file name without folder and suffix: the sample id of an image file."""
    return posixpath.splitext(posixpath.basename(name))[0]


def natural_key(name: str) -> tuple[tuple[int | str, ...], str]:
    """Sort key putting ``9.png`` before ``10.png`` (Kaggle ids are numbers, not strings).

    Names the numbers alone cannot order (``1.png``, ``01.png``) fall back to the plain name, so
    the order never depends on the order files were listed in (a set's, which varies per process).
    """
    parts = _DIGITS.split(name)
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts)), name


def sample_ids(names: Sequence[str]) -> list[str]:
    """One id per file that maps back to it: the stems when they are unique (Kaggle's numeric ids),
    else the paths below the files' common folder without suffix (``cat/0001``), else those paths whole.

    Image folders reuse file names across class folders (``cat/0001.jpg``, ``dog/0001.jpg``), so
    stems alone would give several images one id.
    """
    stems = [stem(name) for name in names]
    if len(set(stems)) == len(stems):
        return stems
    common = posixpath.commonpath(names)  # >= 2 names here: a single name's stem is unique
    relative = [posixpath.relpath(name, common) if common else name for name in names]
    without_suffix = [posixpath.splitext(path)[0] for path in relative]
    return without_suffix if len(set(without_suffix)) == len(without_suffix) else relative
