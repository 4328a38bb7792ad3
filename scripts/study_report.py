"""Write a study's report pieces: its results as a markdown table (stdout) and its bar chart as PNG.

Usage: python scripts/study_report.py STUDY_DIR --png docs/ablation.png

The PNG is the app's own figure (``study_plots.variant_bars_figure``) exported with kaleido, which
drives the machine's Chromium; kaleido is only needed here, so it is not a project requirement
(``pip install kaleido``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar_core.study import StudyFolder, display_table, refresh_results, run_table  # noqa: E402
from cifar_core.study.results import markdown_table  # noqa: E402
from cifar_core.study_plots import variant_bars_figure  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="study folder (holds study.json)")
    parser.add_argument("--png", type=Path, help="write the bar chart here")
    parser.add_argument("--title", default=None, help="chart title")
    args = parser.parse_args()
    folder = StudyFolder(args.study)
    variants = refresh_results(folder)
    print(markdown_table(display_table(variants)))
    if args.png:
        figure = variant_bars_figure(variants, run_table(folder.study()), title=args.title)
        figure.write_image(str(args.png), width=1100, height=480, scale=1)
        print(f"\nwrote {args.png} ({args.png.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
