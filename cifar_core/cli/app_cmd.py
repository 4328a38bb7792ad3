"""``cifar-explorer app``: start the Streamlit app from any folder, installed or in a checkout.

The entry script and its pages ship in the wheel beside ``cifar_core`` (pyproject's ``py-modules`` and
``app_pages`` package), so they are found next to the package here. The clone's ``.streamlit/config.toml``
is not read from another folder, so its settings travel as Streamlit flags; a test keeps the two equal.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cifar_core.errors import ConfigError
from cifar_core.paths import CODE_ROOT

# The same defaults as `streamlit run streamlit_app.py` in the clone (its .streamlit/config.toml says why each).
STREAMLIT_SETTINGS: dict[str, object] = {
    "server.address": "localhost",
    "server.maxUploadSize": 25,
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": False,
    "global.disableWidgetStateDuplicationWarning": True,
}


def entry_script() -> Path:
    """``streamlit_app.py`` beside the ``cifar_core`` package this process imported."""
    script = CODE_ROOT / "streamlit_app.py"
    if not script.is_file() or not (CODE_ROOT / "app_pages").is_dir():
        raise ConfigError(f"the app's files are not beside cifar_core ({script} or app_pages/ is missing): reinstall cifar-explorer")
    return script


def streamlit_command(port: int | None, extra: list[str]) -> list[str]:
    """The ``python -m streamlit run ...`` command line: our defaults first, so options after ``--`` override them."""
    flags = [f"--{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in STREAMLIT_SETTINGS.items()]
    if port is not None:
        flags.append(f"--server.port={port}")
    return [sys.executable, "-m", "streamlit", "run", str(entry_script()), *flags, *extra]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` command."""
    parser = subparsers.add_parser(
        "app",
        help="start the Streamlit app (from any folder)",
        description="Start the app on this machine only (localhost). Options after -- go to `streamlit run`.",
    )
    parser.add_argument("--port", type=int, help="port to listen on (default: Streamlit's, 8501)")
    parser.add_argument("--data", help="the dataset source the app opens with (a path or 'synthetic'); sets CIFAR_EXPLORER_DATA")
    parser.add_argument("streamlit_args", nargs=argparse.REMAINDER, help="-- then options for streamlit run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replace this process with Streamlit's: Ctrl-C and signals then reach the server directly."""
    extra = list(args.streamlit_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.port is not None and not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, not {args.port}")
    command = streamlit_command(args.port, extra)
    env = dict(os.environ)
    if args.data:
        env["CIFAR_EXPLORER_DATA"] = args.data
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)
    return 0  # not reached
