#!/usr/bin/env bash
# Install what the tests need (Python packages, the package itself, Debian's chromium for the browser
# test), lint with ruff, then run pytest with any arguments given (e.g. --runslow for the long real-data training tests).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# the package itself, editable: the cifar-explorer command, and workers that import it from anywhere
python3 -m pip install -q --disable-pip-version-check --no-deps -e .
# the linter (pyproject.toml [tool.ruff]): pyflakes, import order, complexity, line width
python3 -m ruff check .
python3 -m ruff format --check . >/dev/null
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install it (apt-get install chromium) for the browser test" >&2
  fi
fi
exec python3 -m pytest "$@"
