"""Uploaded files become the 32x32 RGB uint8 image the model sees, or a clear DataError."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from cifar_core.app import uploads
from cifar_core.app.uploads import prepare_upload
from cifar_core.errors import DataError


def encode(image: Image.Image, file_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **options)
    return buffer.getvalue()


def test_a_32x32_png_passes_through_pixel_for_pixel():
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    prepared = prepare_upload(encode(Image.fromarray(pixels), "PNG"))
    assert prepared.tensor.dtype == torch.uint8 and prepared.tensor.shape == (3, 32, 32)
    assert (prepared.tensor.permute(1, 2, 0).numpy() == pixels).all()
    assert prepared.format == "PNG" and prepared.original_size == (32, 32)


def test_transparent_png_pixels_become_white_and_opaque_ones_keep_their_colour():
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[:, :32] = (200, 0, 0, 255)  # left half opaque red, right half fully transparent black
    tensor = prepare_upload(encode(Image.fromarray(rgba, "RGBA"), "PNG")).tensor
    assert tensor[:, 16, 2].tolist() == [200, 0, 0]
    assert tensor[:, 16, 30].tolist() == [255, 255, 255]


def test_grayscale_jpeg_becomes_three_equal_channels():
    gray = Image.fromarray(np.full((40, 40), 90, dtype=np.uint8), "L")
    tensor = prepare_upload(encode(gray, "JPEG", quality=95)).tensor
    assert tensor.shape == (3, 32, 32)
    assert (tensor[0] == tensor[1]).all() and (tensor[1] == tensor[2]).all()
    assert abs(int(tensor[0, 16, 16]) - 90) <= 2


def test_sixteen_bit_grayscale_is_scaled_not_saturated():
    values = np.full((32, 32), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    tensor = prepare_upload(encode(Image.fromarray(values), "PNG")).tensor
    assert abs(int(tensor[0, 0, 0]) - 128) <= 1


def test_palette_gif_with_transparency_is_composited_on_white():
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    image.putpixel((0, 0), 1)
    tensor = prepare_upload(encode(image, "GIF", transparency=0)).tensor
    assert tensor[:, 5, 5].tolist() == [255, 255, 255]
    assert tensor[:, 0, 0].tolist() == [0, 255, 0]


def test_a_big_wide_photo_is_centre_cropped_and_shrunk():
    photo = np.zeros((600, 1800, 3), dtype=np.uint8)
    photo[:, :600] = (255, 0, 0)  # left third red: cropped away
    photo[:, 600:1200] = (0, 0, 255)  # centre square blue: kept
    photo[:, 1200:] = (0, 255, 0)
    prepared = prepare_upload(encode(Image.fromarray(photo), "JPEG", quality=95))
    assert prepared.original_size == (1800, 600)
    centre = prepared.tensor[:, 4:28, 4:28].float().mean(dim=(1, 2))
    assert centre[2] > 200 and centre[0] < 30 and centre[1] < 30


def test_text_named_like_a_png_is_refused_by_content_not_extension():
    with pytest.raises(DataError, match="not an image this app can read"):
        prepare_upload(b"hello, I am a text file\n" * 20, "cat.png")


def test_a_pdf_is_refused_even_though_pil_knows_pdfs():
    pdf = encode(Image.new("RGB", (10, 10)), "PDF")
    with pytest.raises(DataError, match="not an image"):
        prepare_upload(pdf, "scan.pdf")


def test_a_truncated_jpeg_is_reported_as_damaged():
    data = encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(DataError, match="damaged|not an image"):
        prepare_upload(data[: len(data) // 3], "broken.jpg")


def test_empty_and_oversized_files_are_refused_before_decoding(monkeypatch):
    with pytest.raises(DataError, match="empty"):
        prepare_upload(b"", "nothing.png")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(DataError, match="limited to"):
        prepare_upload(b"x" * 2000, "huge.png")


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = encode(Image.new("1", (9000, 9000)), "PNG")  # a few KB on disk, 81 megapixels inside
    assert len(bomb) < 100_000
    with pytest.raises(DataError, match="megapixels"):
        prepare_upload(bomb, "bomb.png")


def test_pils_own_bomb_limit_is_also_turned_into_a_data_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(DataError, match="too many pixels"):
        prepare_upload(encode(Image.new("RGB", (40, 40)), "PNG"), "big.png")


@pytest.mark.parametrize("chunk_type", [b"zTXt", b"iCCP"])
def test_a_png_metadata_chunk_that_inflates_past_pils_limit_is_a_sentence(chunk_type):
    import struct
    import zlib

    from PIL import PngImagePlugin

    png = encode(Image.new("RGB", (8, 8)), "PNG")
    body = b"name\x00\x00" + zlib.compress(b"a" * (PngImagePlugin.MAX_TEXT_CHUNK + 10))  # 1 KB on disk
    chunk = struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(chunk_type + body))
    bomb = png[:33] + chunk + png[33:]  # right after IHDR, read when the file is opened
    with pytest.raises(DataError, match="holds a text or colour-profile block too large to read safely"):
        prepare_upload(bomb, "bomb.png")
