"""A user's uploaded picture turned into exactly what the model sees: a 32x32 RGB uint8 image.

Uploads come from strangers, so nothing is trusted: the size is capped before decoding, the type
is decided by decoding with PIL (a ``.png`` name on a PDF is still a PDF), only common image
formats are tried, and the pixel count is checked from the header before the pixels are
decompressed, so a small file that inflates to gigapixels (a decompression bomb) is refused
instead of exhausting memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from cifar_core.errors import DataError

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
"""Files above 20 MB are refused before decoding (a phone photo is 2-8 MB).

Each uploader of the app gives the browser this cap too (``max_upload_size``; Streamlit's MB are
MiB), so a bigger file is refused there, before it is sent, with one sentence naming 20 MB."""
MAX_PIXELS = 50_000_000
"""Refuse images above 50 megapixels; checked from the header, before decompression."""
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
"""Decoders PIL may try; anything else (PDF, EPS, exotic formats) is refused."""
SIZE = 32
BACKGROUND = (255, 255, 255)
"""Transparent pixels become white, the way a browser shows a transparent PNG on a page."""


@dataclass(frozen=True)
class PreparedImage:
    """An upload reduced to model input, plus what it was, for the page to explain."""

    tensor: torch.Tensor
    """uint8 ``[3, 32, 32]``, the exact pixels the model receives."""
    format: str
    original_size: tuple[int, int]
    """(width, height) of the uploaded image."""


def prepare_upload(data: bytes, name: str = "the uploaded file") -> PreparedImage:
    """Decode ``data`` and reduce it to 32x32 RGB; every refusal is a ``DataError`` sentence.

    Non-square images are centre-cropped to a square first (CIFAR-10 images are square, and
    squashing would distort the object), then shrunk with an antialiasing filter.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"{name} is {len(data) / 1e6:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB.")
    if not data:
        raise DataError(f"{name} is empty.")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise DataError(f"{name} is not an image this app can read; upload a {', '.join(FORMATS[:-1])} or {FORMATS[-1]} file.") from exc
    except Image.DecompressionBombError as exc:  # PIL's own limit, above ours: same answer
        raise DataError(f"{name} declares far too many pixels to decode safely; upload a smaller image.") from exc
    except ValueError as exc:  # PIL's cap on a text or colour-profile block that inflates (a PNG zTXt/iCCP bomb)
        raise DataError(
            f"{name} holds a text or colour-profile block too large to read safely; "
            "save the picture again without that metadata, or upload another image."
        ) from exc
    except (OSError, SyntaxError) as exc:
        raise DataError(f"{name} looks like an image but its header is damaged; upload another image.") from exc
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise DataError(
                f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
                f"images above {MAX_PIXELS / 1e6:.0f} megapixels are refused."
            )
        file_format = image.format or "unknown"
        try:
            image.draft("RGB", (SIZE * 4, SIZE * 4))  # JPEG: decode at reduced size, much faster
            rgb = _to_rgb(ImageOps.exif_transpose(image))
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
            raise DataError(f"{name} looks like a {file_format} image but its pixel data is damaged ({exc}).") from exc
    square = _centre_square(rgb)
    small = square.resize((SIZE, SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    array = np.asarray(small, dtype=np.uint8)
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())
    return PreparedImage(tensor=tensor, format=file_format, original_size=(width, height))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode to RGB: alpha composited on white, grayscale repeated, 16-bit scaled down."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0) > 255:  # 16-bit samples: map 0..65535 onto 0..255
            values = values / 257.0
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _centre_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))
