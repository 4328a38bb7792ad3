"""Turn image file bytes into CIFAR-shaped uint8 arrays, with errors that name the file."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from cifar_core.data.archive import SourceTree
from cifar_core.data.limits import MAX_RESIZE_PIXELS
from cifar_core.errors import DataError

SIZE = 32

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a batch of images is decoded."""


class ImageSizeError(DataError):
    """An image is not 32×32 and resizing is off.

    The sentence says to resize the images; a command that offers resizing (``data info
    --resize``) adds its own flag to it, so no command advises a flag it does not have.
    """


def decode_image(data: bytes, where: str, *, resize: bool) -> np.ndarray:
    """Decode one image to ``[3, 32, 32]`` uint8 RGB.

    Grayscale, RGBA and palette images are converted to RGB (alpha is dropped); other sizes are
    an error unless ``resize`` is set, because silently rescaling would hide a wrong dataset.
    The size is read from the header, so an oversized image is refused before its pixels are
    decompressed. ``where`` names the file in error messages.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.size != (SIZE, SIZE) and not resize:
                raise ImageSizeError(
                    f"image {where} is {width}x{height} pixels, but CIFAR-10 images are "
                    f"{SIZE}x{SIZE}; resize the images to {SIZE}x{SIZE} first"
                )
            if width * height > MAX_RESIZE_PIXELS:
                raise DataError(
                    f"image {where} is {width}x{height} pixels, far more than a CIFAR-10 image "
                    f"({SIZE}x{SIZE}); images above {MAX_RESIZE_PIXELS / 1e6:.0f} megapixels are not decoded"
                )
            image.load()
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")
            if image.mode != "RGB":
                image = image.convert("RGB")
            if image.size != (SIZE, SIZE):
                image = image.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except DataError:
        raise
    except UnidentifiedImageError as exc:
        raise DataError(f"cannot decode image {where}: it is not a readable image file") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode image {where}: {exc}") from exc


def decode_items(
    items: Iterable[tuple[str, bytes]],
    names: Sequence[str],
    where: Callable[[str], str],
    *,
    resize: bool,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Decode ``(name, bytes)`` items — each of ``names`` once, in any order — into a
    ``[len(names), 3, 32, 32]`` array whose row ``i`` holds ``names[i]``.

    A preallocated array keeps the per-image cost to the decode itself; ``where(name)`` phrases
    a file's location for error messages.
    """
    rows = {name: index for index, name in enumerate(names)}
    out = np.empty((len(names), 3, SIZE, SIZE), dtype=np.uint8)
    for done, (name, data) in enumerate(items, start=1):
        out[rows[name]] = decode_image(data, where(name), resize=resize)
        if progress is not None and (done % 5000 == 0 or done == len(names)):
            progress(done, len(names))
    return out


def decode_members(
    tree: SourceTree,
    names: Sequence[str],
    *,
    resize: bool,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Decode the named image files of ``tree``: row ``i`` holds ``names[i]``.

    Files are read in the archive's own order, so none waits in memory for its turn.
    """
    items = tree.iter_bytes(names, ordered=False)
    return decode_items(items, names, tree.where, resize=resize, progress=progress)


def stderr_progress(label: str) -> ProgressFn:
    """A progress callback printing ``label: done/total`` lines to stderr."""

    def report(done: int, total: int) -> None:
        print(f"{label}: decoded {done}/{total} images", file=sys.stderr, flush=True)

    return report
