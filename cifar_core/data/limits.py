"""How big each file of a CIFAR-10 source can honestly be, so a small hostile input cannot take the machine.

Every cap is derived from what CIFAR-10 is: 32×32×3 = 3,072 bytes per image, a PNG/JPEG of such an
image a few KB, a torchvision batch 10,000 images (about 31 MB), Kaggle's test set 300,000 images
(its ``test.7z`` about 0.6 GB). Declared sizes (archive headers, ``stat``) are checked before
reading, and the bytes actually read are counted too, so a member that lies about its size is cut
off at the cap rather than inflated into memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from cifar_core.data.names import archive_kind, is_image_name

MB = 1024 * 1024

MAX_IMAGE_FILE_BYTES = 1 * MB
"""One image file: a 32×32 PNG/JPEG is 1-4 KB; 1 MB leaves room for larger photos loaded with resizing."""
MAX_RESIZE_PIXELS = 4096 * 4096
"""Largest image decoded when resizing is on (a 32×32 image is 1,024 pixels); read from the header first."""
MAX_NESTED_ARCHIVE_BYTES = 1024 * MB
"""An archive inside the source (Kaggle's ``train.7z``/``test.7z``): the largest, ``test.7z``, is about 0.6 GB."""
MAX_OTHER_FILE_BYTES = 64 * MB
"""Any other file a layout reads: a torchvision batch is about 31 MB, ``trainLabels.csv`` 0.6 MB."""
MAX_TOTAL_BYTES = 2048 * MB
"""All bytes of one source: what its archive headers declare for all its members, read or not, and
what one pass reads. Kaggle's 300,000 test images are under 1 GB."""
MAX_FILES = 400_000
"""Files and folders listed in one source: the largest CIFAR-10 layout (Kaggle's test set) has 300,000."""


@dataclass(frozen=True)
class Cap:
    """The most bytes one file may hold, and what it is, for the refusal sentence."""

    bytes: int
    what: str
    typical: str


def file_cap(name: str) -> Cap:
    """The cap of a file, from its name: images, nested archives and everything else differ."""
    if is_image_name(name):
        return Cap(MAX_IMAGE_FILE_BYTES, "an image file of CIFAR-10", "a 32x32 image is a few KB")
    if archive_kind(name):
        return Cap(MAX_NESTED_ARCHIVE_BYTES, "an archive inside a CIFAR-10 source", "Kaggle's test.7z is 0.6 GB")
    return Cap(MAX_OTHER_FILE_BYTES, "a file of a CIFAR-10 layout", "a torchvision batch is 31 MB")


def too_big(where: str, size: int, cap: Cap) -> str:
    """The sentence refusing a file of ``size`` bytes (declared or read) above ``cap``."""
    return (
        f"{where} is {_megabytes(size)}, more than {cap.what} can be ({_megabytes(cap.bytes)} at most; "
        f"{cap.typical}); it was not read"
    )


def too_much_declared(label: str, declared: int, cap: int) -> str:
    """The sentence refusing an archive whose members declare more than ``cap`` bytes in all.

    Said while listing: a compressed archive must be inflated to skip a member, so a member that no
    layout reads (gigabytes of zeros in a 3 MB ``.tar.gz``) would cost as much time as reading it.
    """
    return (
        f"{label} declares {_megabytes(declared)} of files in all, more than any CIFAR-10 source holds "
        f"({_megabytes(cap)} at most; Kaggle's 300,000 test images are under 1 GB); it was not read"
    )


def _megabytes(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size >= MB / 10 else f"{size:,} bytes"
