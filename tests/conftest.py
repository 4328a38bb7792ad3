"""Shared pytest setup: the real-data locator, the ``--runslow`` switch and the support modules.

The support modules are registered here as plugins, so their fixtures reach every test file:
``support`` (``tiny_config``, ``wait_for``), ``app_support`` (the Streamlit app tests' runs folder
and trained run) and ``study_support`` (the finished study of the study tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["support", "app_support", "study_support"]

SHARED_TARBALL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg-train.tar.gz"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow real-data test; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def shared_tarball() -> Path:
    """The 50,000-image CIFAR-10 JPEG tarball in ../shared beside the repo (skips when absent)."""
    if not SHARED_TARBALL.is_file():
        pytest.skip(f"real-data test needs {SHARED_TARBALL}, which is not present")
    return SHARED_TARBALL
