"""``load_cifar``: find the dataset, recognise its layout, decode it once and cache the result."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import cache, image_folder, kaggle_format, torchvision_format
from cifar_core.data.access import project_data_dir, resolve_source
from cifar_core.data.archive import ARCHIVE_SUFFIXES, SourceTree, archive_kind, open_source
from cifar_core.data.decode import ProgressFn, stderr_progress
from cifar_core.data.synthetic import SOURCE as SYNTHETIC_SOURCE
from cifar_core.data.synthetic import load_synthetic
from cifar_core.data.types import CifarData, LoadedSplits
from cifar_core.errors import DataError

LAYOUTS = (
    "put one of these there: (1) torchvision: cifar-10-batches-py/ (data_batch_1 … data_batch_5, "
    "test_batch, batches.meta) or cifar-10-python.tar.gz; (2) Kaggle: train.7z and "
    "trainLabels.csv (optionally test.7z); (3) image folder: train/<class>/*.png|jpg and/or "
    "test/<class>/*.png|jpg with the ten CIFAR-10 class names — each as a folder or as a "
    f"{'/'.join(ARCHIVE_SUFFIXES)} archive"
)

log = logging.getLogger(__name__)


__all__ = ["LAYOUTS", "load_cifar", "project_data_dir"]


def _download(root: Path) -> None:
    """Fetch the torchvision copy into ``root`` (creates ``root/cifar-10-batches-py``)."""
    try:
        from torchvision.datasets import CIFAR10

        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    except Exception as exc:  # no network, disk full, bad checksum: all mean "not downloaded"
        raise DataError(f"no CIFAR-10 data in {root} and downloading it failed ({exc}); {LAYOUTS}") from exc


def _default_source(download: bool) -> Path:
    root = project_data_dir()
    if root.is_dir() and any(not entry.name.startswith(".") for entry in root.iterdir()):
        return root.resolve()
    if not download:
        raise DataError(
            f"no CIFAR-10 data found in {root}; {LAYOUTS}; or pass --data synthetic for a demo set"
        )
    _download(root)
    return root.resolve()


def _read_layout(
    tree: SourceTree, *, resize: bool, progress: ProgressFn | None, nested: bool = False
) -> tuple[str, LoadedSplits]:
    """Recognise the layout of ``tree`` and read it; a folder holding one archive is opened."""
    if (prefix := torchvision_format.find(tree)) is not None:
        return torchvision_format.FORMAT, torchvision_format.load(tree, prefix)
    if (prefix := kaggle_format.find(tree)) is not None:
        return kaggle_format.FORMAT, kaggle_format.load(tree, prefix, resize=resize, progress=progress)
    if (prefix := image_folder.find(tree)) is not None:
        return image_folder.FORMAT, image_folder.load(tree, prefix, resize=resize, progress=progress)
    archives = sorted(name for name in tree.files if "/" not in name and archive_kind(name))
    if len(archives) > 1:
        raise DataError(f"{tree.label} holds several archives ({', '.join(archives)}); pass the one to use")
    if archives and not nested:
        with tree.open_nested(archives[0]) as inner:
            return _read_layout(inner, resize=resize, progress=progress, nested=True)
    found = sorted({name.split("/", 1)[0] for name in tree.files | tree.dirs})
    shown = ", ".join(found[:10]) + (", …" if len(found) > 10 else "") if found else "nothing"
    raise DataError(f"{tree.label} does not hold CIFAR-10 in a known layout (found: {shown}); {LAYOUTS}")


def _unchanged(entry: cache.CacheEntry, path: Path, *, resize: bool) -> bool:
    """True if ``path`` still has the fingerprint ``entry`` was made from, now that it has been read.

    A source changed while it was decoded gave a mix of two states, which no cache entry may
    hold as either; a source that has vanished meanwhile has changed too.
    """
    try:
        return cache.entry_for(entry.path.parent, path, resize=resize).key == entry.key
    except OSError:
        return False


def load_cifar(
    source: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    resize: bool = False,
    download: bool = False,
    progress: bool = False,
) -> CifarData:
    """Load CIFAR-10 from a folder or archive in any supported layout (auto-detected).

    ``source=None`` uses ``<project>/data`` (downloading the torchvision copy there when
    ``download`` is set and it is empty); ``"synthetic"`` gives ``load_synthetic()`` — real data is
    never silently replaced by synthetic data. Decoded arrays are cached in ``cache_dir``
    (default ``default_cache_dir()``), so only the first load of a source decodes images.
    ``resize`` resizes images that are not 32×32 instead of rejecting them.
    """
    if isinstance(source, str) and source == SYNTHETIC_SOURCE:
        return load_synthetic()
    # every path, the default included, passes the one access gate before the cache is consulted
    path = resolve_source(_default_source(download) if source is None else source)
    entry = cache.entry_for(
        Path(cache_dir) if cache_dir is not None else cache.default_cache_dir(), path, resize=resize
    )
    cached = cache.load(entry)
    stored = cached is not None
    if cached is None:
        report = stderr_progress(path.name) if progress else None
        with open_source(path) as tree:
            layout, loaded = _read_layout(tree, resize=resize, progress=report)
        if not _unchanged(entry, path, resize=resize):
            raise DataError(
                f"{path} changed while it was read (files were added, removed or rewritten), so nothing was cached; "
                "load it again once it stops changing"
            )
        if loaded.skipped_files:
            log.warning("skipped %d non-image files in %s", loaded.skipped_files, path)
        cached = cache.Cached(format=layout, splits=loaded.splits, skipped_files=loaded.skipped_files)
        stored = cache.save(entry, cached)
    elif progress:
        print(f"{path.name}: using decoded cache {entry.path}", file=sys.stderr, flush=True)
    return CifarData(
        format=cached.format,
        source=str(path),
        classes=CIFAR10_CLASSES,
        splits=cached.splits,
        cache_path=str(entry.path) if stored else None,
        skipped_files=cached.skipped_files,
    )
