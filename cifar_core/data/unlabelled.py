"""Stream images without labels (Kaggle's 300,000-image ``test.7z``) in fixed-size batches.

Prediction over the Kaggle test set must not need all of it in memory at once, so images are
decoded batch by batch while the archive is read front to back.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import torch

from cifar_core.data.access import resolve_source
from cifar_core.data.archive import SourceTree, open_source
from cifar_core.data.decode import decode_items
from cifar_core.data.kaggle_format import TEST_ARCHIVE
from cifar_core.data.names import is_image_name, natural_key, sample_ids
from cifar_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _image_tree(tree: SourceTree, stack: contextlib.ExitStack) -> SourceTree:
    """The tree holding the images: a Kaggle folder's ``test.7z`` if present, else ``tree``."""
    for root in tree.roots():
        if root + TEST_ARCHIVE in tree.files:
            return stack.enter_context(tree.open_nested(root + TEST_ARCHIVE))
    return tree


def iter_unlabelled_images(
    source: str | os.PathLike, batch_size: int = 1024, *, resize: bool = False
) -> Iterator[tuple[list[str], torch.Tensor]]:
    """Yield ``(ids, images)`` batches, images uint8 ``[b, 3, 32, 32]``, in natural id order.

    ``source`` is a Kaggle ``test.7z`` (or a Kaggle folder holding one), or a folder or archive of
    images at any depth. Ids are the file stems (Kaggle's numeric ids) when those are unique, else
    the paths below the images' common folder (``cat/0001``), so every id maps back to one file.
    A missing source or a bad batch size is reported at the call, not at the first batch.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    return _batches(resolve_source(source), batch_size, resize)


def _batches(path: Path, batch_size: int, resize: bool) -> Iterator[tuple[list[str], torch.Tensor]]:
    with contextlib.ExitStack() as stack:
        tree = _image_tree(stack.enter_context(open_source(path)), stack)
        names = sorted((name for name in tree.files if is_image_name(name)), key=natural_key)
        if not names:
            raise DataError(f"{tree.label} holds no .png/.jpg images")
        if skipped := len(tree.files) - len(names):
            log.warning("skipped %d non-image files in %s", skipped, tree.label)
        ids = sample_ids(names)
        stream = stack.enter_context(contextlib.closing(tree.iter_bytes(names)))
        for start in range(0, len(names), batch_size):
            batch = names[start : start + batch_size]
            images = decode_items(itertools.islice(stream, len(batch)), batch, tree.where, resize=resize)
            yield ids[start : start + batch_size], torch.from_numpy(images)
