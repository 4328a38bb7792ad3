"""One JSON object from bench/gpu.sh's JSON lines (no torch import: it must be quick and sure).

python bench/gpu_summary.py DIR     # prints it compactly (a device run returns only the output's tail)
                                    # and writes DIR/summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summary(out: Path) -> dict:
    """One object: every finished section's summary, the partial ones, and what failed."""
    report: dict = {"sections": {}, "partial": {}, "failed": []}
    for name in ("sections.jsonl", "failures.jsonl"):
        path = out / name
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if name == "failures.jsonl":
                report["failed"].append(record)
            elif record.get("status") == "ok":
                report["sections"][record["section"]] = {"seconds": record["seconds"], **record["summary"]}
            else:
                report["partial"][record["section"]] = record["summary"]
    for done in report["sections"]:
        report["partial"].pop(done, None)
    env = report["sections"].pop("env", {})
    # the goal's two sides (ours and each record, timed in the same call) up front
    record = report["sections"].get("record") or report["partial"].get("record") or {}
    return {"card": env.get("card"), "torch": env.get("torch"), "vs_record": record.get("vs_record"), "env": env, **report}


def main() -> None:
    out = Path(sys.argv[1])
    report = summary(out)
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
