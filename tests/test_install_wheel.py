"""The wheel, installed outside the clone, starts the app from any folder and keeps runs out of site-packages.

Builds the wheel with the already-installed setuptools (no network), installs it without dependencies into a
fresh venv that reuses the system's torch/streamlit (``--system-site-packages``), and runs everything with the
working folder outside the clone, so nothing of the checkout can be found by accident.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import tomllib

from cifar_core.cli.app_cmd import STREAMLIT_SETTINGS

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(the venv's python, an empty working folder outside the clone, the environment to run it with)."""
    base = tmp_path_factory.mktemp("install")
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True,
        cwd=base,
        timeout=120,
    )
    (wheel,) = wheels.glob("cifar_explorer-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--force-reinstall", "-q", str(wheel)], check=True, timeout=120)
    work = base / "elsewhere"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "CIFAR_EXPLORER_RUNS", "CIFAR_EXPLORER_DATA")}
    env["HOME"] = str(base / "home")  # the per-user data folder lands in the test's folder
    env["XDG_DATA_HOME"] = str(base / "home" / "share")
    return python, work, env


def test_wheel_ships_the_app() -> None:
    """The settings passed to Streamlit are the clone's .streamlit/config.toml, so both launches behave alike."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    assert flat == STREAMLIT_SETTINGS


def test_installed_package_runs_from_anywhere(installed: tuple[Path, Path, dict[str, str]]) -> None:
    python, work, env = installed
    located = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('cifar_core').origin, u.find_spec('streamlit_app').origin)"],
        cwd=work, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    package, script = (Path(line) for line in located.stdout.split())
    assert python.parent.parent in package.parents and REPO not in package.parents  # the venv's copy, not the clone
    assert script.parent == package.parent.parent and (script.parent / "app_pages" / "dataset.py").is_file()

    info = subprocess.run(
        [str(python), "-m", "cifar_core", "info", "--json"], cwd=work, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    folders = json.loads(info.stdout)
    assert folders["checkout"] is None and folders["version"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    runs = Path(folders["runs"]["path"])
    assert "site-packages" not in runs.parts and Path(env["XDG_DATA_HOME"]) in runs.parents
    assert Path(folders["studies"]["path"]).resolve() == package.parent.resolve() / "published_studies"


def test_installed_package_reads_the_published_studies(installed: tuple[Path, Path, dict[str, str]]) -> None:
    """The Experiments page and the lesson's takeaway find the studies the checkout publishes in docs/studies."""
    from cifar_core.study.published import PUBLISHED_ROOT, lesson_takeaway, list_published

    python, work, env = installed
    code = (
        "import json; from cifar_core.study.published import PUBLISHED_ROOT as root, lesson_takeaway, list_published; "
        "print(json.dumps({'root': str(root), 'studies': [[s.dir.name, len(s.runs)] for s in list_published()], "
        "'takeaway': lesson_takeaway()}))"
    )
    done = subprocess.run([str(python), "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120, check=True)
    shipped = json.loads(done.stdout)
    assert "site-packages" in Path(shipped["root"]).parts and REPO not in Path(shipped["root"]).parents
    checkout = [[study.dir.name, len(study.runs)] for study in list_published(PUBLISHED_ROOT)]
    assert len(checkout) >= 5 and shipped["studies"] == checkout
    assert shipped["takeaway"] == lesson_takeaway() and "not published" not in shipped["takeaway"]


def test_installed_app_answers(installed: tuple[Path, Path, dict[str, str]]) -> None:
    python, work, env = installed
    port = _free_port()
    script = python.parent / "cifar-explorer"
    server = subprocess.Popen(
        [str(script), "app", "--port", str(port), "--data", "synthetic", "--", "--server.headless=true"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                status, body = _get(f"http://localhost:{port}/_stcore/health")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail(f"the installed app did not answer: {server.communicate()[0][-2000:]}")
                time.sleep(0.5)
        assert (status, body) == (200, "ok")
        status, page = _get(f"http://localhost:{port}/")
        assert status == 200 and "<title>Streamlit</title>" in page  # the app's shell; the page itself runs over the websocket
    finally:
        server.terminate()
        server.wait(timeout=20)
