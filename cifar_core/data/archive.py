"""Read a folder or an archive (.tar.gz/.tgz/.tar/.zip/.7z) through one interface, in memory.

Layout readers only see relative POSIX names and bytes, so every layout works the same whether the
user points at a folder or at the archive they downloaded, and nothing is ever extracted into the
user's folders. Archive damage surfaces as one ``DataError`` naming the archive. Every file read is
capped by ``limits`` (declared size first, then the bytes actually delivered), and so are the
number of files listed, the sizes all members declare (read or not: skipping a member of a
compressed tar inflates it) and the bytes read from one source, so a small archive that inflates
to gigabytes is refused instead of exhausting memory or time.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import os
import posixpath
import queue
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

from cifar_core.data.access import read_file, regular_file
from cifar_core.data.limits import MAX_FILES, MAX_TOTAL_BYTES, Cap, file_cap, too_big, too_much_declared
from cifar_core.data.names import ARCHIVE_SUFFIXES, archive_kind, shown
from cifar_core.errors import DataError

__all__ = ["ARCHIVE_SUFFIXES", "SourceTree", "archive_errors", "archive_kind", "open_archive_bytes", "open_source"]

# What the archive libraries raise on truncated or corrupt input (found by truncating and flipping
# bytes of small archives: gzip's BadGzipFile is an OSError, zipfile's unknown compression method a
# NotImplementedError). Nothing broader: a KeyError or ValueError from our own code is a bug to see.
_ARCHIVE_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    py7zr.exceptions.ArchiveError,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
)

# Folders that archivers add and that never hold data (macOS resource forks).
_IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})


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
        self._sizes: dict[str, int] = {}  # normalized name -> size its header declares
        self._listed = 0
        self._declared = 0  # bytes the headers listed so far declare, ignored members included

    def _add(self, raw: str, is_dir: bool, size: int | None = None) -> None:
        self._listed += 1
        if self._listed > MAX_FILES:
            raise DataError(
                f"{self.label} holds more than {MAX_FILES:,} files and folders, more than any CIFAR-10 "
                "layout (Kaggle's test set has 300,000 images); it was not read"
            )
        self._declared += size or 0
        if self._declared > MAX_TOTAL_BYTES:  # every member counts: skipping one inflates it too
            raise DataError(too_much_declared(self.label, self._declared, MAX_TOTAL_BYTES))
        name = _normalize(raw)
        if name is None:
            return
        if is_dir:
            self.dirs.add(name)
        else:
            self.files.add(name)
            self._raw[name] = raw
            if size is not None:
                self._sizes[name] = size
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
        return f"'{shown(name)}' in {self.label}"

    def cap(self, name: str) -> Cap:
        """The size cap of a member, refusing it at once when its header declares more."""
        cap = file_cap(name)
        declared = self._sizes.get(name, 0)
        if declared > cap.bytes:
            raise DataError(too_big(self.where(name), declared, cap))
        return cap

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
        for dirpath, dirnames, filenames in os.walk(root):  # never follows linked folders
            rel = Path(dirpath).relative_to(root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            for dirname in dirnames:
                self._add(prefix + dirname, is_dir=True)
            for filename in filenames:
                self._add(prefix + filename, is_dir=False)

    def where(self, name: str) -> str:
        return f"'{shown(str(self.root / name))}'"

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        for name in names:
            yield name, read_file(self.root / name, self.where(name), file_cap(name))

    def open_nested(self, name: str) -> SourceTree:
        path = regular_file(self.root / name, self.where(name))
        if path.stat().st_size > (cap := file_cap(name)).bytes:
            raise DataError(too_big(self.where(name), path.stat().st_size, cap))
        return open_source(path)


def _deliver(
    names: Sequence[str],
    stream: Generator[tuple[str, bytes], None, None],
    label: str,
    *,
    ordered: bool,
) -> Generator[tuple[str, bytes], None, None]:
    """Pass a source's stream on, re-ordered into ``names``' order if asked, checking it is complete."""
    position = total = 0
    pending: dict[str, bytes] = {}
    with contextlib.closing(stream):  # stop the archive reader as soon as the caller stops
        for name, data in stream:
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise DataError(
                    f"{label} holds more than {MAX_TOTAL_BYTES // 2**30} GB of files to read, more than any "
                    "CIFAR-10 layout (all of Kaggle's 300,000 test images are under 1 GB); it was not read"
                )
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
            with archive_errors(label):
                for member in self._tar:  # lazily, so a header bomb stops at the file-count cap
                    if member.isfile() or member.isdir():
                        self._add(member.name, is_dir=member.isdir(), size=member.size)
                        self._members[member.name] = member
        except BaseException:
            self._tar.close()
            raise

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        members = [(self._members[self._raw[name]], name) for name in names]
        for member, name in sorted(members, key=lambda pair: pair[0].offset_data):
            self.cap(name)  # tar reads exactly the declared size, so checking it is enough
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
            infos = self._zip.infolist()
        for info in infos:
            self._add(info.filename, is_dir=info.is_dir(), size=info.file_size)

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        for name in names:
            cap = self.cap(name)
            with archive_errors(self.label), self._zip.open(self._raw[name]) as member:
                data = member.read(cap.bytes + 1)
            if len(data) > cap.bytes:
                raise DataError(too_big(self.where(name), len(data), cap))
            yield name, data

    def close(self) -> None:
        self._zip.close()


class _Cancelled(Exception):
    """Raised inside the 7z extraction thread when the consumer stopped reading."""


class _QueueWriter(Py7zIO):
    """Collects one 7z member, up to its cap, and hands it to the consumer when py7zr finishes it."""

    def __init__(self, name: str, deliver: _Delivery) -> None:
        self._name = name
        self._buffer = bytearray()
        self._deliver = deliver
        self._cap = file_cap(name)

    def write(self, s: bytes | bytearray) -> int:
        self._buffer += s
        if len(self._buffer) > self._cap.bytes:
            raise DataError(too_big(f"'{self._name}' in {self._deliver.label}", len(self._buffer), self._cap))
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

    def __init__(self, label: str) -> None:
        self.label = label
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
            infos = archive.list()
        for info in infos:
            self._add(info.filename, is_dir=info.is_directory, size=info.uncompressed)

    def _open(self) -> py7zr.SevenZipFile:
        """A fresh reader: py7zr extracts only once per open archive."""
        return py7zr.SevenZipFile(self._file if isinstance(self._file, Path) else io.BytesIO(self._file))

    def _read(self, names: Sequence[str]) -> Generator[tuple[str, bytes], None, None]:
        raw_to_name = {self._raw[name]: name for name in names}
        for name in names:
            self.cap(name)
        delivery = _Delivery(self.label)

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
    """Open a folder or an archive file on disk (a regular file: never a device or a pipe)."""
    if path.is_dir():
        return DirTree(path)
    regular_file(path, str(path))
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
