"""cifar_core: data, augmentation, models, training, runs and evaluation for CIFAR-10.

The Streamlit app (``streamlit_app.py`` and ``app_pages/``) and the CLI (``python -m cifar_core``)
are two thin faces of this library; neither holds data or training logic of its own.
"""

import re as _re
from importlib import metadata as _metadata
from pathlib import Path as _Path


def _version() -> str:
    """pyproject.toml's version: read from the file in a checkout, from the installed metadata otherwise.

    The checkout's file wins because an editable install's metadata goes stale when the version is bumped.
    """
    pyproject = _Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        found = _re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), _re.MULTILINE)
        if found:
            return found.group(1)
    try:
        return _metadata.version("cifar-explorer")
    except _metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
