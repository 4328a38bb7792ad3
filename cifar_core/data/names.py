"""File-name rules shared by every layout: what counts as an image, and natural ordering."""

from __future__ import annotations

import posixpath
import re

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg"})

_DIGITS = re.compile(r"(\d+)")


def is_image_name(name: str) -> bool:
    """True for file names whose suffix is one we decode (case-insensitive)."""
    return posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES


def stem(name: str) -> str:
    """The file name without folder and suffix: the sample id of an image file."""
    return posixpath.splitext(posixpath.basename(name))[0]


def natural_key(name: str) -> tuple[int | str, ...]:
    """Sort key putting ``9.png`` before ``10.png`` (Kaggle ids are numbers, not strings)."""
    parts = _DIGITS.split(name)
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))
