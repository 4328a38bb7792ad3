"""Write a study's report pieces: its conclusion and tables as markdown (stdout), its figures as PNG.

Usage: python scripts/study_report.py FOLDER [--png bars.png] [--curves-png curves.png] [--heatmap-png grid.png] [--title TEXT]

FOLDER is a published study (docs/studies/<name>, the normal case) or a study folder in the runs
root. The sentences and intervals come from ``study.stats``, exactly as the Experiments page shows
them. The PNGs are the app's own figures exported with kaleido, which drives the machine's
Chromium; kaleido is only needed here, so it is not a project requirement (``pip install kaleido``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cifar_core.figures.studies import (  # noqa: E402
    gap_curves_figure,
    grid_heatmap_figure,
    interval_bars_figure,
    labels_past_intervals,
    ticks_on_every_panel,
)
from cifar_core.study import StudyFolder, display_table, refresh_results, run_table  # noqa: E402
from cifar_core.study.published import GRID_METRIC, grid_cells, grid_spread, load_published  # noqa: E402
from cifar_core.study.results import markdown_table  # noqa: E402
from cifar_core.study.stats import compare_variants, comparison_table, conclusion  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="published study folder (command.txt) or study folder (study.json)")
    parser.add_argument("--png", type=Path, help="write validation accuracy and the over-fit panel here")
    parser.add_argument("--curves-png", type=Path, help="write the gap-shaded curves here")
    parser.add_argument("--heatmap-png", type=Path, help="a grid over two settings: write its validation-accuracy heatmap here")
    parser.add_argument("--title", default=None, help="title of the --png figure")
    args = parser.parse_args()
    if (args.study / "command.txt").is_file():
        published = load_published(args.study)
        runs, reference, variants, curves = published.runs, published.reference, published.variants, published.curve_events()
        definition = published.definition
        print(f"{published.label}: {len(runs)} of {len(definition.get('runs', []))} runs finished.\n")
    else:
        folder = StudyFolder(args.study)
        study = folder.study()
        print(markdown_table(display_table(refresh_results(folder))) + "\n")
        runs, reference, variants = run_table(study), study.reference_variant, [v.name for v in study.variants]
        definition = study.to_dict()
        store = folder.store()
        curves = {
            name: [store.get(p.run_id).events() for p in study.runs if p.variant == name and (store.root / p.run_id).is_dir()]
            for name in variants
        }
    values = compare_variants(runs, reference, variants=variants)
    gaps = compare_variants(runs, reference, metric="acc_gap", variants=variants)
    print(f"**{conclusion(values)}**\n")
    table = comparison_table(values)
    # how much each variant over-fits, beside its accuracy: the training accuracy and the gap
    train = comparison_table(compare_variants(runs, reference, metric="final_train_acc", variants=variants))
    table.insert(2, "train acc (mean ± 95% CI)", train["train acc (mean ± 95% CI)"])
    gap_column = "gap (train − val) (mean ± 95% CI)"
    table[gap_column] = comparison_table(gaps)[gap_column]
    print(markdown_table(table))
    if args.png:
        figure = labels_past_intervals(interval_bars_figure(values, gaps, title=args.title))
        figure.write_image(str(args.png), width=1100, height=120 + 40 * len(variants))
        print(f"\nwrote {args.png} ({args.png.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    if args.heatmap_png:
        cells = grid_cells(definition, runs)
        if cells is None:
            parser.error("--heatmap-png needs a grid over two settings")
        frame, x_field, y_field = cells
        figure = grid_heatmap_figure(frame, x_field, y_field, metric=GRID_METRIC)
        figure.update_layout(title={"text": grid_spread(frame).split(":")[0], "font": {"size": 13}}, margin={"t": 60})
        figure.write_image(str(args.heatmap_png), width=800, height=int(figure.layout.height) + 40)
        print(f"wrote {args.heatmap_png} ({args.heatmap_png.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    if args.curves_png:
        figure = ticks_on_every_panel(gap_curves_figure(curves))
        figure.write_image(str(args.curves_png), width=1100, height=int(figure.layout.height))
        print(f"wrote {args.curves_png} ({args.curves_png.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
