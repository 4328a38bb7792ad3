"""Where cifar_core keeps runs, data and published studies by default, and why there.

One function answers for every module, because the answer depends on how the code was installed:
a source checkout keeps everything beside the code (``checkpoints/``, ``data/``, ``docs/studies/``),
while an installed package must never write inside site-packages (a run there outlives
``pip uninstall`` and may not even be writable), so it uses the per-user data folder (platformdirs).
``$CIFAR_EXPLORER_RUNS`` overrides the runs folder in both cases. The published studies
are only read, never written by the package: ``docs/studies/`` in a checkout is their one home, and the
wheel's build copies them into the package (``setup.py``), where an installed copy reads them.

This module imports only the standard library and platformdirs: the CLI's start-up path reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "cifar-explorer"
RUNS_ENV = "CIFAR_EXPLORER_RUNS"
# The package's own folder and the one above it (the checkout, or site-packages when installed).
PACKAGE_DIR = Path(__file__).resolve().parent
CODE_ROOT = PACKAGE_DIR.parent
# The published studies' folder inside an installed package (the build copies docs/studies/ there).
SHIPPED_STUDIES = "published_studies"


@dataclass(frozen=True)
class DefaultRoots:
    """The default folders, each with the sentence that says why it was chosen."""

    runs: Path
    runs_why: str
    data: Path
    data_why: str
    studies: Path
    studies_why: str
    checkout: Path | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for ``cifar-explorer info --json``."""
        return {
            "checkout": str(self.checkout) if self.checkout else None,
            "runs": {"path": str(self.runs), "why": self.runs_why},
            "data": {"path": str(self.data), "why": self.data_why},
            "studies": {"path": str(self.studies), "why": self.studies_why},
        }


def checkout_root() -> Path | None:
    """The source checkout this code runs from, or None for an installed package.

    A checkout is recognised by its ``pyproject.toml`` beside the package: a wheel never installs one
    into site-packages, while an editable install or ``PYTHONPATH=clone`` keeps it there.
    """
    return CODE_ROOT if (CODE_ROOT / "pyproject.toml").is_file() else None


def user_data_dir() -> Path:
    """The per-user data folder for an installed package (``~/.local/share/cifar-explorer`` on Linux)."""
    import platformdirs  # only here: the checkout case never needs it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_roots() -> DefaultRoots:
    """The default runs, data and published-studies folders, read afresh (the environment may change)."""
    checkout = checkout_root()
    base = checkout if checkout is not None else user_data_dir()
    where = "the source checkout" if checkout is not None else "the per-user data folder (installed package)"
    override = os.environ.get(RUNS_ENV, "").strip()
    if override:
        runs, runs_why = Path(override).expanduser(), f"set by the {RUNS_ENV} environment variable"
    else:
        runs, runs_why = base / ("checkpoints" if checkout is not None else "runs"), f"default: in {where}"
    if checkout is not None:
        studies, studies_why = checkout / "docs" / "studies", f"default: in {where}"
    else:
        studies, studies_why = CODE_ROOT / PACKAGE_DIR.name / SHIPPED_STUDIES, "shipped inside the installed package (read only)"
    return DefaultRoots(
        runs=runs,
        runs_why=runs_why,
        data=base / "data",
        data_why=f"default: in {where}",
        studies=studies,
        studies_why=studies_why,
        checkout=checkout,
    )
