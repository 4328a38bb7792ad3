"""Which files the library may read: one check for every source, whatever way it came in.

On someone's own machine the loader reads any dataset its user can read. A served deployment sets
``CIFAR_EXPLORER_DATA_ROOTS``; from then on every source — typed on a page, from a study grid, a
saved config or a resumed run, on the CLI — must resolve (symlinks followed) inside those folders,
and so must every file read from a source folder, so a link ``train/cat/x.png -> /elsewhere`` is
refused too. The operator's own choices stay readable: ``CIFAR_EXPLORER_DATA`` and the project's
``data/`` folder. Sentences never show where an outside path or link leads.

Only regular files are ever opened: a device (``/dev/zero``) would never end and a FIFO would
block forever, so the type is checked with ``stat`` before opening and again on the open file
descriptor (opened non-blocking) before a byte is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from cifar_core.data.limits import Cap, too_big
from cifar_core.data.synthetic import SOURCE as SYNTHETIC
from cifar_core.errors import DataError
from cifar_core.paths import default_roots

ROOTS_ENV = "CIFAR_EXPLORER_DATA_ROOTS"
"""``os.pathsep``-separated folders a served app may read data from; unset: no confinement."""
DEFAULT_ENV = "CIFAR_EXPLORER_DATA"
"""The source the app starts with (a path or ``synthetic``); always readable."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def project_data_dir() -> Path:
    """``<project>/data`` (the per-user folder when installed): where ``load_cifar()`` looks when no source is given."""
    return default_roots().data


def allowed_roots() -> list[Path]:
    """The resolved folders of ``CIFAR_EXPLORER_DATA_ROOTS``; empty when it is unset (no confinement)."""
    configured = os.environ.get(ROOTS_ENV, "")
    return [Path(part).expanduser().resolve() for part in configured.split(os.pathsep) if part.strip()]


def _readable_places(roots: list[Path]) -> list[Path]:
    """The roots plus the operator's own sources, which a confined app may always return to."""
    places = [*roots, project_data_dir().resolve()]
    default = os.environ.get(DEFAULT_ENV, "").strip()
    if default and default.lower() != SYNTHETIC:
        places.append(Path(default).expanduser().resolve())
    return places


def is_readable(resolved: Path, roots: list[Path] | None = None) -> bool:
    """Whether the resolved path may be read: always without roots, else inside a readable place."""
    roots = allowed_roots() if roots is None else roots
    if not roots:
        return True
    return any(resolved == place or resolved.is_relative_to(place) for place in _readable_places(roots))


def outside_sentence(shown: str, roots: list[Path]) -> str:
    """The refusal of a path outside the roots; names only what the user gave and the roots."""
    allowed = ", ".join(str(root) for root in roots)
    return (
        f"{shown} is outside the folders this app may read from ({allowed}); "
        f"ask the operator to add it to {ROOTS_ENV}."
    )


def _os_sentence(shown: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return (
            f"data source {shown} does not exist; pass a folder or a .tar.gz/.tgz/.tar/.zip/.7z archive "
            "of CIFAR-10, or 'synthetic'"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return f"data source {shown[:80]}… is too long to be a path on this system"
    return f"cannot open data source {shown}: {exc.strerror or exc}"


def resolve_source(source: str | os.PathLike) -> Path:
    """A source path resolved and checked: readable under the roots, existing, a folder or a regular file.

    The one gate every path goes through before the loader (or its cache) touches it.
    """
    shown = os.fspath(source)
    if "\x00" in shown:
        raise DataError("the data source contains a NUL character")
    roots = allowed_roots()
    try:
        resolved = Path(shown).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        raise DataError(f"cannot open data source {shown[:200]}: it cannot be resolved ({exc})") from exc
    if not is_readable(resolved, roots):
        raise DataError(outside_sentence(shown, roots))
    try:
        mode = resolved.stat().st_mode
    except OSError as exc:
        raise DataError(_os_sentence(shown, exc)) from exc
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise DataError(f"data source {shown} is not a folder or a regular file; only those are read")
    return resolved


def check_link(path: Path, where: str, roots: list[Path]) -> None:
    """Refuse a file of a source whose link leads outside the readable places (when confined).

    Only ``path`` itself is looked at: folder walks never follow linked folders, so a listed
    file can only escape through its own link. ``read_file`` resolves the whole path instead.
    """
    if roots and path.is_symlink() and not is_readable(Path(os.path.realpath(path)), roots):
        raise DataError(_link_outside(where))


def _link_outside(where: str) -> str:
    return f"{where} is a link to a file outside the folders this app may read from; it was not read"


def _not_regular(where: str) -> DataError:
    return DataError(f"{where} is not a regular file (a device, pipe or socket?); only regular files are read")


def regular_file(path: Path, where: str) -> Path:
    """``path`` if it may be read and is a regular file (checked with ``stat``), else a ``DataError``."""
    roots = allowed_roots()
    if roots and not is_readable(Path(os.path.realpath(path)), roots):
        raise DataError(_link_outside(where))
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise DataError(_unreadable(path, where, exc)) from exc
    if not stat.S_ISREG(mode):
        raise _not_regular(where)
    return path


def read_file(path: Path, where: str, cap: Cap) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, or a ``DataError`` saying why not."""
    try:
        fd = os.open(regular_file(path, where), _OPEN_FLAGS)
    except OSError as exc:
        raise DataError(_unreadable(path, where, exc)) from exc
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):  # swapped for something else since the stat
            raise _not_regular(where)
        if status.st_size > cap.bytes:
            raise DataError(too_big(where, status.st_size, cap))
        data = handle.read(cap.bytes + 1)
    if len(data) > cap.bytes:
        raise DataError(too_big(where, len(data), cap))
    return data


def _unreadable(path: Path, where: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"{where} is a broken link (it points to nothing)"
    if exc.errno == errno.ENOENT:  # every file read here was listed (or resolved) a moment before
        return f"{where} was removed while its source was read; load it again once the source stops changing"
    return f"cannot read {where}: {exc.strerror or exc}"
