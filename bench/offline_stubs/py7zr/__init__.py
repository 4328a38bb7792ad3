"""Stand-in for py7zr on a machine without it (bench/gpu.sh puts it on the path only then).

Importing the data package needs the names below; opening a .7z archive says what is missing.
"""


class SevenZipFile:
    def __init__(self, *args, **kwargs):
        raise OSError("py7zr is not installed here, so .7z archives cannot be read; use the .tar.gz source.")


from py7zr import exceptions, io  # noqa: E402,F401
