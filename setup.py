"""The wheel's build step: ship the published studies, which the Experiments page and the lesson's takeaway read.

Their one home is ``docs/studies/`` (``scripts/publish_study.py`` writes there, the docs site shows them).
An installed package has no ``docs/`` folder, so building the wheel copies each study's result files into
the package as ``cifar_core/published_studies/<study>/``, where ``cifar_core.paths`` points an installed
copy. The figures (``*.png``) stay behind: the app draws its own. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PUBLISHED = Path(__file__).resolve().parent / "docs" / "studies"
# What cifar_core.study.published.load_published reads from a study's folder (tests/test_install_wheel.py
# checks that the installed package lists the same studies as the checkout).
STUDY_FILES = ("study.json", "results.csv", "curves.json", "command.txt")
SHIPPED = ("cifar_core", "published_studies")  # cifar_core.paths.SHIPPED_STUDIES


class BuildWithStudies(build_py):
    """``build_py``, then the published studies copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install is a checkout, which reads docs/studies itself
        if not PUBLISHED.is_dir():
            raise SystemExit(f"{PUBLISHED} is missing, so the package would ship without its published studies.")
        target = Path(self.build_lib, *SHIPPED)
        shutil.rmtree(target, ignore_errors=True)  # a build folder left from an earlier build may hold a removed study
        for study in sorted(PUBLISHED.iterdir()):
            files = [study / name for name in STUDY_FILES]
            if study.is_dir() and not study.is_symlink() and all(path.is_file() for path in files):
                (target / study.name).mkdir(parents=True)
                for path in files:
                    self.copy_file(str(path), str(target / study.name / path.name))


setup(cmdclass={"build_py": BuildWithStudies})
