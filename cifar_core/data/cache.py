"""Cache of decoded splits, so a dataset is decoded once per source version, not per run.

A cache file is one uncompressed ``.npz`` (a cached 50,000-image load is a plain file read), named
by a hash of the resolved source path, its size and modification time (for a folder: of every
file's path, size and mtime), the resize option and ``CACHE_VERSION``. Files are written to a
temporary name and renamed into place, so a crash never leaves a half-written cache that looks
valid; an unreadable, tampered or inaccessible cache file is reported, ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data.access import allowed_roots, check_link
from cifar_core.data.names import shown
from cifar_core.data.types import UNLABELLED, CifarSplit

CACHE_VERSION = 2
"""Bump when the decoded content or the file layout changes, to invalidate old caches.
2: image-folder ids are ``<class>/<stem>`` (stems repeat across class folders)."""

ENV_VAR = "CIFAR_EXPLORER_CACHE"

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$CIFAR_EXPLORER_CACHE`` if set, else the per-user cache folder of cifar-explorer."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("cifar-explorer"))


def _fingerprint(path: Path) -> str:
    """Changes whenever the source's content plausibly changed, without reading that content.

    Names are hashed as the file system's bytes (a Latin-1 name is not valid UTF-8), a broken
    link counts as "missing" (the loader names it if it is ever read), and when the app is
    confined a link leading outside its folders is refused here, so a cached decode cannot be
    served from a source the loader itself would refuse.
    """
    if not path.is_dir():
        stat = path.stat()
        return f"file:{stat.st_size}:{stat.st_mtime_ns}"
    roots = allowed_roots()
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for filename in sorted(filenames):
            full = os.path.join(dirpath, filename)
            check_link(Path(full), f"'{shown(full)}'", roots)
            try:
                stat = os.stat(full)
                state = f"{stat.st_size}\0{stat.st_mtime_ns}"
            except OSError:
                state = "missing"
            digest.update(os.fsencode(os.path.relpath(full, path)) + f"\0{state}\n".encode())
    return f"dir:{digest.hexdigest()}"


@dataclass(frozen=True)
class CacheEntry:
    """Where one source's decoded arrays live, and the key that proves they belong to it."""

    path: Path
    key: str


@dataclass(frozen=True)
class Cached:
    """The content of a cache file."""

    format: str
    splits: dict[str, CifarSplit]
    skipped_files: int


def entry_for(cache_dir: Path, source: Path, *, resize: bool) -> CacheEntry:
    """The cache entry of a resolved source path."""
    identity = {
        "version": CACHE_VERSION,
        "source": str(source),
        "fingerprint": _fingerprint(source),
        "resize": resize,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return CacheEntry(path=cache_dir / f"cifar10-{key[:24]}.npz", key=key)


def load(entry: CacheEntry) -> Cached | None:
    """The cached splits, or None when there is no usable cache file."""
    try:
        if not entry.path.is_file():
            return None
        with entry.path.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta["key"] != entry.key:
                raise ValueError("it belongs to another source")
            splits = {}
            for name in meta["splits"]:
                ids = npz[f"{name}_ids"].tolist() if meta["has_ids"][name] else None
                splits[name] = CifarSplit(
                    images=torch.from_numpy(npz[f"{name}_images"]),
                    labels=torch.from_numpy(npz[f"{name}_labels"]),
                    ids=ids,
                )
                labels = splits[name].labels
                if len(labels) and (labels.min() < UNLABELLED or labels.max() >= len(CIFAR10_CLASSES)):
                    raise ValueError(f"its {name} labels lie outside {UNLABELLED}..{len(CIFAR10_CLASSES) - 1}")
            return Cached(format=meta["format"], splits=splits, skipped_files=int(meta["skipped_files"]))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable cache file %s (%s); decoding the source again", entry.path, exc)
        return None


def save(entry: CacheEntry, cached: Cached) -> bool:
    """Write the cache file atomically; False (with a warning) when the folder is not writable."""
    meta = {
        "key": entry.key,
        "version": CACHE_VERSION,
        "format": cached.format,
        "splits": list(cached.splits),
        "has_ids": {name: split.ids is not None for name, split in cached.splits.items()},
        "skipped_files": cached.skipped_files,
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for name, split in cached.splits.items():
        arrays[f"{name}_images"] = split.images.numpy()
        arrays[f"{name}_labels"] = split.labels.numpy()
        if split.ids is not None:
            arrays[f"{name}_ids"] = np.array(split.ids, dtype=str)
    temp_name = None
    try:
        entry.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.path.parent, suffix=".tmp", delete=False) as handle:
            temp_name = handle.name
            np.savez(handle, **arrays)
        os.replace(temp_name, entry.path)
        return True
    except OSError as exc:
        log.warning(
            "could not write the data cache %s (%s); the next load will decode again", entry.path, exc
        )
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)
        return False
