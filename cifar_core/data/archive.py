"""Read a folder or an archive (.tar.gz/.tgz/.tar/.zip/.7z) through one interface, in memory.

Layout readers only see relative POSIX names and bytes, so every layout works the same whether the
user points at a folder or at the archive they downloaded, and nothing is ever extracted into the
user's folders. Archive damage surfaces as one ``DataError`` naming the archive.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import os
import posixpath
import queue
import struct
import tarfile
import threading
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import IO

import py7zr
import py7zr.exceptions
from py7zr.io import Py7zIO, WriterFactory

from cifar_core.errors import DataError

ARCHIVE_SUFFIXES: tuple[str, ...] = (".tar.gz", ".tgz", ".tar", ".zip", ".7z")

# Errors the archive libraries raise on truncated or corrupt input.
_ARCHIVE_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    py7zr.exceptions.ArchiveError,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
)

# Folders that archivers add and that never hold data (macOS resource forks).
_IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})


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


@contextlib.contextmanager
def archive_errors(label: str) -> Iterator[None]:
    """Turn a library's low-level failure into a ``DataError`` naming the archive."""
    try:
        yield
    except DataError:
        raise
    except py7zr.exceptions.PasswordRequired as exc:
        raise DataError(f"archive {label} is password-protected; extract it and pass the folder") from exc
    except _ARCHIVE_ERRORS as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read archive {label}: it is truncated or corrupt ({detail})") from exc


def _normalize(raw: str) -> str | None:
    """Relative POSIX form of a member name, or None for names to ignore."""
    name = posixpath.normpath(raw.replace("\\", "/")).lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    if name in ("", ".") or name.startswith("../") or name.split("/", 1)[0] in _IGNORED_TOP_LEVEL:
        return None
    return name


class SourceTree(ABC):
    """Read-only view of a folder or archive: file and folder names relative to its root."""

    def __init__(self, label: str) -> None:
        self.label = label
        """How error messages name this source (a path, or ``member in archive``)."""
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self._raw: dict[str, str] = {}  # normalized name -> name as stored in the archive

    def _add(self, raw: str, is_dir: bool) -> None:
        name = _normalize(raw)
        if name is None:
            return
        if is_dir:
            self.dirs.add(name)
        else:
            self.files.add(name)
            self._raw[name] = raw
        parent = posixpath.dirname(name)
        while parent:
            self.dirs.add(parent)
            parent = posixpath.dirname(parent)

    def roots(self) -> list[str]:
        """Prefixes where a layout may start: the root, and its single top folder if it has one.

        Archives are often made of a folder (``cifar-10/train/...``), so layouts are searched one
        level down as well.
        """
        top = {name.split("/", 1)[0] for name in self.files | self.dirs}
        if len(top) == 1 and (only := top.pop()) in self.dirs:
            return ["", only + "/"]
        return [""]

    def where(self, name: str) -> str:
        """Human-readable location of a member, for error messages."""
        return f"'{name}' in {self.label}"

    def read(self, name: str) -> bytes:
        """The bytes of one file."""
        with contextlib.closing(self.iter_bytes([name])) as items:
            return next(items)[1]

    def iter_bytes(
        self, names: Sequence[str], *, ordered: bool = True
    ) -> Generator[tuple[str, bytes], None, None]:
        """Yield ``(name, bytes)`` for each of ``names``.

        With ``ordered`` they come in the order given: archives read front to back keep members
        that arrive early in memory until their turn, so memory stays small when the archive's
        order matches the request. Without it they come in the archive's own order, buffering
        nothing — what a full load wants.
        """
        return _deliver(names, self._read(names), self.label, ordered=ordered)

    @abstractmethod
    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        """Yield every one of ``names`` once, in whatever order this source reads fastest."""

    def open_nested(self, name: str) -> SourceTree:
        """Open an archive stored inside this source (e.g. ``train.7z`` in a Kaggle zip)."""
        return open_archive_bytes(self.read(name), name, f"'{name}' in {self.label}")

    def close(self) -> None:
        """Release file handles; the default holds none."""

    def __enter__(self) -> SourceTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class DirTree(SourceTree):
    """A folder on disk."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            for dirname in dirnames:
                self._add(prefix + dirname, is_dir=True)
            for filename in filenames:
                self._add(prefix + filename, is_dir=False)

    def where(self, name: str) -> str:
        return f"'{self.root / name}'"

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        for name in names:
            try:
                data = (self.root / name).read_bytes()
            except OSError as exc:
                raise DataError(f"cannot read {self.where(name)}: {exc.strerror or exc}") from exc
            yield name, data

    def open_nested(self, name: str) -> SourceTree:
        return open_source(self.root / name)


def _deliver(
    names: Sequence[str],
    stream: Generator[tuple[str, bytes], None, None],
    label: str,
    *,
    ordered: bool,
) -> Generator[tuple[str, bytes], None, None]:
    """Pass a source's stream on, re-ordered into ``names``' order if asked, checking it is complete."""
    position = 0
    pending: dict[str, bytes] = {}
    with contextlib.closing(stream):  # stop the archive reader as soon as the caller stops
        for name, data in stream:
            if not ordered:
                position += 1
                yield name, data
            elif name == names[position]:
                yield name, data
                position += 1
                while position < len(names) and names[position] in pending:
                    yield names[position], pending.pop(names[position])
                    position += 1
            else:
                pending[name] = data
    if position < len(names):
        raise DataError(f"cannot read archive {label}: it ended before all its files were read (truncated?)")


class TarTree(SourceTree):
    """A tar archive, compressed or not.

    Members are read in archive order, so a compressed tar is decompressed front to back once
    more after the listing pass, rather than once per member.
    """

    def __init__(self, label: str, file: Path | IO[bytes]) -> None:
        super().__init__(label)
        self._members: dict[str, tarfile.TarInfo] = {}
        with archive_errors(label):
            if isinstance(file, Path):
                self._tar = tarfile.open(file, "r:*")
            else:
                self._tar = tarfile.open(fileobj=file, mode="r:*")
            try:
                members = self._tar.getmembers()
            except BaseException:
                self._tar.close()
                raise
        for member in members:
            if member.isfile() or member.isdir():
                self._add(member.name, is_dir=member.isdir())
                self._members[member.name] = member

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        members = [(self._members[self._raw[name]], name) for name in names]
        for member, name in sorted(members, key=lambda pair: pair[0].offset_data):
            with archive_errors(self.label):
                extracted = self._tar.extractfile(member)
                assert extracted is not None  # a regular file always has a file object
                data = extracted.read()
            yield name, data

    def close(self) -> None:
        self._tar.close()


class ZipTree(SourceTree):
    """A zip archive, read member by member."""

    def __init__(self, label: str, file: Path | IO[bytes]) -> None:
        super().__init__(label)
        with archive_errors(label):
            self._zip = zipfile.ZipFile(file)
            for info in self._zip.infolist():
                self._add(info.filename, is_dir=info.is_dir())

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        for name in names:
            with archive_errors(self.label):
                data = self._zip.read(self._raw[name])
            yield name, data

    def close(self) -> None:
        self._zip.close()


class _Cancelled(Exception):
    """Raised inside the 7z extraction thread when the consumer stopped reading."""


class _QueueWriter(Py7zIO):
    """Collects one 7z member and hands it to the consumer when py7zr finishes it."""

    def __init__(self, name: str, deliver: _Delivery) -> None:
        self._name = name
        self._buffer = bytearray()
        self._deliver = deliver

    def write(self, s: bytes | bytearray) -> int:
        self._buffer += s
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return bytes(self._buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return len(self._buffer)

    def close(self) -> None:
        self._deliver.put((self._name, bytes(self._buffer)))
        self._buffer = bytearray()


class _Delivery(WriterFactory):
    """Bounded hand-over from py7zr's extraction thread to the reading generator."""

    _DONE = object()

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=256)
        self.cancelled = threading.Event()

    def create(self, filename: str) -> Py7zIO:
        return _QueueWriter(filename, self)

    def put(self, item: object) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


class SevenZipTree(SourceTree):
    """A 7z archive (Kaggle's ``train.7z``/``test.7z``), streamed without touching the disk.

    py7zr pushes members to a writer as it decompresses; a helper thread runs the extraction so
    the members can be yielded lazily — 300,000 Kaggle test images never need to be held at once.
    """

    def __init__(self, label: str, file: Path | bytes) -> None:
        super().__init__(label)
        self._file = file
        with archive_errors(label), self._open() as archive:
            for info in archive.list():
                self._add(info.filename, is_dir=info.is_directory)

    def _open(self) -> py7zr.SevenZipFile:
        """A fresh reader: py7zr extracts only once per open archive."""
        return py7zr.SevenZipFile(self._file if isinstance(self._file, Path) else io.BytesIO(self._file))

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        raw_to_name = {self._raw[name]: name for name in names}
        delivery = _Delivery()

        def extract() -> None:
            try:
                with archive_errors(self.label), self._open() as archive:
                    archive.extract(targets=list(raw_to_name), factory=delivery)
                delivery.put(_Delivery._DONE)
            except _Cancelled:
                pass
            except Exception as exc:  # handed to the reader, which re-raises it
                with contextlib.suppress(_Cancelled):
                    delivery.put(exc)

        worker = threading.Thread(target=extract, name="7z-reader", daemon=True)
        worker.start()
        try:
            while (item := delivery.queue.get()) is not _Delivery._DONE:
                if isinstance(item, BaseException):
                    raise item
                raw, data = item
                if raw in raw_to_name:
                    yield raw_to_name[raw], data
        finally:
            delivery.cancelled.set()
            worker.join()


def open_archive_bytes(data: bytes, name: str, label: str) -> SourceTree:
    """Open an archive held in memory, choosing the reader from its file name."""
    kind = archive_kind(name)
    if kind == "tar":
        return TarTree(label, io.BytesIO(data))
    if kind == "zip":
        return ZipTree(label, io.BytesIO(data))
    if kind == "7z":
        return SevenZipTree(label, data)
    raise DataError(f"unsupported archive type {label}: expected {', '.join(ARCHIVE_SUFFIXES)}")


def open_source(path: Path) -> SourceTree:
    """Open a folder or an archive file on disk."""
    if path.is_dir():
        return DirTree(path)
    kind = archive_kind(path.name)
    if kind == "tar":
        return TarTree(str(path), path)
    if kind == "zip":
        return ZipTree(str(path), path)
    if kind == "7z":
        return SevenZipTree(str(path), path)
    raise DataError(
        f"unsupported data source {path}: expected a folder or an archive ending in "
        f"{', '.join(ARCHIVE_SUFFIXES)}"
    )
