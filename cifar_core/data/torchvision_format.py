"""The torchvision layout: the pickled batches of ``cifar-10-batches-py/``.

The pickles are read with a restricted unpickler (numpy arrays and plain containers only), so a
tampered batch file cannot run code, and every array's declared shape is checked before numpy
allocates it, so a few hundred bytes cannot ask for gigabytes; torchvision itself is not needed.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable

import numpy as np
import torch

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data.archive import SourceTree
from cifar_core.data.names import stem
from cifar_core.data.types import CifarSplit, LoadedSplits
from cifar_core.errors import DataError

FORMAT = "torchvision"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"


def find(tree: SourceTree) -> str | None:
    """The prefix of the folder holding the batches, or None if this is not the layout."""
    markers = (*TRAIN_BATCHES, TEST_BATCH, META)
    for root in tree.roots():
        for prefix in (root, f"{root}{BATCH_DIR}/"):
            if any(prefix + marker in tree.files for marker in markers):
                return prefix
    return None


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pickle: only ``_reconstruct`` turns it back into the type."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise pickle.UnpicklingError("it creates an array without storing its contents, which a CIFAR batch never does")


_NDARRAY = _NdarrayToken()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else that could execute code.

    An array's bytes are stored in the pickle itself, so no honest array holds more bytes than
    the file: a larger declared shape is refused before numpy allocates it. ``numpy.ndarray`` is
    only handed out as ``_reconstruct``'s type argument (how numpy pickles arrays), never as
    something to call: ``ndarray(shape)`` would allocate any shape without its bytes.
    """

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="bytes")
        self._max_bytes = len(data)

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it references {module}.{name}, which a CIFAR batch never does")
        if name == "ndarray":
            return _NDARRAY  # type: ignore[return-value]
        found = super().find_class(module, name)
        return self._bounded(found) if name == "_reconstruct" else found

    def _bounded(self, reconstruct: Callable) -> Callable:
        def checked(subtype: object, shape: object, dtype: object) -> np.ndarray:
            if subtype is not _NDARRAY:
                raise pickle.UnpicklingError("it rebuilds an array of a type other than numpy.ndarray")
            dims = shape if isinstance(shape, tuple) else (shape,)
            size = math.prod(int(n) for n in dims) * np.dtype(dtype).itemsize
            if size > self._max_bytes:
                raise pickle.UnpicklingError(
                    f"it declares an array of shape {dims} ({size:,} bytes), more than its "
                    f"{self._max_bytes:,} bytes can hold"
                )
            return reconstruct(np.ndarray, shape, dtype)

        return checked


def _unpickle(data: bytes, where: str) -> dict:
    try:
        obj = _NumpyOnlyUnpickler(data).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{where} is not a readable CIFAR-10 python batch ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a CIFAR-10 python batch (it holds a {type(obj).__name__})")
    return obj


def _batch_split(data: bytes, where: str) -> CifarSplit:
    batch = _unpickle(data, where)
    images, labels = batch.get(b"data"), batch.get(b"labels")
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.ndim != 2
        or images.shape[1] != 3 * 32 * 32
        or labels is None
        or len(labels) != images.shape[0]
    ):
        raise DataError(
            f"{where} is not a CIFAR-10 python batch: expected b'data' as uint8 [N, 3072] "
            f"and b'labels' with N entries"
        )
    label_array = np.asarray(labels, dtype=np.int64)
    if label_array.size and (label_array.min() < 0 or label_array.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"{where} has labels outside 0..{len(CIFAR10_CLASSES) - 1}")
    filenames = batch.get(b"filenames")
    ids = None
    if filenames is not None and len(filenames) == len(label_array):
        ids = [stem(name.decode() if isinstance(name, bytes) else str(name)) for name in filenames]
    return CifarSplit(
        images=torch.from_numpy(images.reshape(-1, 3, 32, 32).copy()),
        labels=torch.from_numpy(label_array),
        ids=ids,
    )


def _check_classes(data: bytes, where: str) -> None:
    meta = _unpickle(data, where)
    found = tuple(
        name.decode() if isinstance(name, bytes) else str(name) for name in meta.get(b"label_names", ())
    )
    if found != CIFAR10_CLASSES:
        raise DataError(
            f"{where} lists the classes {', '.join(found) or '(none)'}; expected the CIFAR-10 "
            f"classes {', '.join(CIFAR10_CLASSES)}"
        )


def _concat(parts: list[CifarSplit]) -> CifarSplit:
    ids = None
    if all(part.ids is not None for part in parts):
        ids = [sample_id for part in parts for sample_id in part.ids or ()]
    return CifarSplit(
        images=torch.cat([part.images for part in parts]),
        labels=torch.cat([part.labels for part in parts]),
        ids=ids,
    )


def load(tree: SourceTree, prefix: str) -> LoadedSplits:
    """Read all batches found under ``prefix``; the train split needs all five data batches."""
    present_train = [name for name in TRAIN_BATCHES if prefix + name in tree.files]
    has_test = prefix + TEST_BATCH in tree.files
    if present_train and len(present_train) != len(TRAIN_BATCHES) or not (present_train or has_test):
        missing = [name for name in TRAIN_BATCHES if name not in present_train]
        raise DataError(
            f"{tree.label} has an incomplete {BATCH_DIR} folder: missing {', '.join(missing)} "
            f"(expected data_batch_1 … data_batch_5, test_batch and batches.meta)"
        )
    wanted = [name for name in (META, *TRAIN_BATCHES, TEST_BATCH) if prefix + name in tree.files]
    blobs = {name[len(prefix) :]: data for name, data in tree.iter_bytes([prefix + n for n in wanted])}
    if META in blobs:
        _check_classes(blobs[META], tree.where(prefix + META))
    result = LoadedSplits()
    if present_train:
        result.splits["train"] = _concat(
            [_batch_split(blobs[name], tree.where(prefix + name)) for name in TRAIN_BATCHES]
        )
    if has_test:
        result.splits["test"] = _batch_split(blobs[TEST_BATCH], tree.where(prefix + TEST_BATCH))
    return result
