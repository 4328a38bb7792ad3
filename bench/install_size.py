"""Installed size of cifar-explorer's default install and of each extra, measured from this environment.

Why from the environment and not a fresh venv: a fresh install downloads nothing new here (torch
comes from this machine's disk), so the sizes are the same; summing each distribution's RECORD
files over the dependency closure is exact and takes a second. Prints JSON (MB per set, and the
largest distributions) to stdout; ``--out FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(roots: list[str]) -> set[str]:
    """Every distribution the roots pull in, following requirements without extras markers."""
    seen: set[str] = set()
    todo = [_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(_name(req))
    return seen


def _size_mb(name: str) -> float:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    project = metadata.distribution("cifar-explorer")
    extras: dict[str, list[str]] = {}
    for req in project.requires or []:
        match = re.search(r'extra == "([^"]+)"', req)
        if match:
            extras.setdefault(match.group(1), []).append(req.split(";")[0])
    default = _closure([r for r in project.requires or [] if "extra ==" not in r])
    sizes = {name: _size_mb(name) for name in default}
    result = {
        "python": sys.version.split()[0],
        "default_install_mb": round(sum(sizes.values()), 1),
        "largest": {k: round(v, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:6]},
        "extras_mb": {},
    }
    for extra, reqs in extras.items():
        added = _closure(reqs) - default
        result["extras_mb"][extra] = round(sum(_size_mb(n) for n in added), 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
