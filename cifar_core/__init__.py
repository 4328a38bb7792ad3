"""cifar_core: data, augmentation, models, training, runs and evaluation for CIFAR-10.

The Streamlit app (``streamlit_app.py`` and ``app_pages/``) and the CLI (``python -m cifar_core``)
are two thin faces of this library; neither holds data or training logic of its own. From Python,
``load_source``, ``train_model`` and ``evaluate_model`` (``cifar_core.api``, docs/api.md) are the third.

``import cifar_core`` stays cheap: the CLI's quick commands import this package and must not pay for
torch, so the API's names are imported from ``cifar_core.api`` when first asked for.
"""

import re as _re
from importlib import metadata as _metadata
from pathlib import Path as _Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cifar_core.api import (
        CifarData,
        Evaluation,
        LoadedModel,
        TrainConfig,
        TrainedRun,
        evaluate_model,
        load_source,
        train_model,
    )

__all__ = [
    "CifarData",
    "Evaluation",
    "LoadedModel",
    "TrainConfig",
    "TrainedRun",
    "__version__",
    "evaluate_model",
    "load_source",
    "train_model",
]


def __getattr__(name: str) -> object:
    """The API's names from ``cifar_core.api``, imported (with torch) on first use (``__version__`` is set below)."""
    if name in __all__:
        from cifar_core import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
