#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium for the browser test), then run
# pytest with any arguments given (e.g. --runslow for the long real-data training tests).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install it (apt-get install chromium) for the browser test" >&2
  fi
fi
exec python3 -m pytest "$@"
