"""``mistakes``, ``explain``, ``embed`` and ``label-issues``: why a run's model errs, as files and JSON."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from tqdm import tqdm

from cifar_core.cli.evaluate_cmd import RUN_HELP, open_run
from cifar_core.cli.output import emit_json
from cifar_core.data import load_cifar
from cifar_core.evaluate import LoadedModel, evaluate, load_run_model
from cifar_core.explain.embedding import embedding_map
from cifar_core.explain.label_issues import label_issues
from cifar_core.explain.mistakes import mistakes_report
from cifar_core.explain.saliency import METHODS, saliency, saliency_grid
from cifar_core.explain.scope import SplitImages, parse_indices, split_of
from cifar_core.models import explain_layers
from cifar_core.runs import Run
from cifar_core.runs.atomic import write_atomic


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("mistakes", help="every misclassified image of a split, most confident first")
    _add_common(parser, ("val", "test"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_mistakes)

    parser = subparsers.add_parser("explain", help="saliency maps (Grad-CAM or occlusion) for chosen images")
    _add_common(parser, ("val", "test", "train"))
    parser.add_argument("--index", required=True, help="image indices in the source split, comma-separated (as mistakes prints them)")
    parser.add_argument("--method", choices=METHODS, default="gradcam")
    parser.add_argument("--out", required=True, help="PNG grid to write: image, map for the predicted class, map for the true class")
    parser.add_argument("--json", action="store_true", help="print the maps as JSON")
    parser.set_defaults(func=run_explain)

    parser = subparsers.add_parser("embed", help="2-D map (PCA + t-SNE) of a split's penultimate features, as CSV")
    _add_common(parser, ("val", "test", "train"))
    parser.add_argument("--out", required=True, help="CSV to write: index,x,y,true,predicted,confidence")
    parser.set_defaults(func=run_embed)

    parser = subparsers.add_parser("label-issues", help="images whose label the model disputes (cleanlab), most suspect first")
    _add_common(parser, ("val", "test"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_label_issues)


def _add_common(parser: argparse.ArgumentParser, splits: tuple[str, ...]) -> None:
    parser.add_argument("--run", required=True, help=RUN_HELP)
    parser.add_argument("--data", default=None, help="dataset (default: the one the run trained on)")
    parser.add_argument("--split", choices=splits, default="val")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto")


def _open(args: argparse.Namespace, *, needs_layers: bool = False) -> tuple[Run, LoadedModel, str, SplitImages]:
    """The run, its model, the data source used and the chosen split; every refusal a ``CifarError``."""
    run = open_run(args.run)
    loaded = load_run_model(run, args.checkpoint, args.device)
    if needs_layers:
        explain_layers(loaded.config.model)
    source = args.data or loaded.config.data
    return run, loaded, source, split_of(loaded, load_cifar(source), args.split)


def run_mistakes(args: argparse.Namespace) -> int:
    run, loaded, _, split = _open(args)
    report = mistakes_report(evaluate(loaded, split.images, split.labels, split.indices))
    if args.json:
        emit_json({"run": run.id, "split": split.name, "checkpoint": args.checkpoint, **report})
        return 0
    print(f"{run.id} on {split.name}: {len(report['mistakes'])} mistakes in {report['n']} images (accuracy {report['accuracy']:.4f})")
    for item in report["mistakes"][:20]:
        print(f"  #{item['index']:<6} {item['true']:<11} taken for {item['predicted']:<11} ({item['confidence']:.0%})")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    wanted = parse_indices(args.index)
    run, loaded, _, split = _open(args, needs_layers=True)
    rows = split.rows(wanted)
    images, labels = split.images[rows], split.labels[rows]
    predicted = loaded.probabilities(images).argmax(dim=1)
    maps = saliency(loaded.model, loaded.config.model, images, predicted, labels, args.method)
    out = Path(args.out)
    buffer = io.BytesIO()
    saliency_grid(images, maps).save(buffer, format="PNG")
    write_atomic(out, lambda handle: handle.write(buffer.getvalue()))
    if args.json:
        items = [
            {
                "index": index,
                "true": loaded.classes[int(labels[position])],
                "predicted": loaded.classes[int(predicted[position])],
                "map": maps.predicted[position].tolist(),
                "map_true": maps.true[position].tolist(),
            }
            for position, index in enumerate(wanted)
        ]
        emit_json({"run": run.id, "split": split.name, "method": args.method, "out": str(out), "images": items})
    else:
        print(f"wrote {out}: {len(wanted)} image(s), {args.method} maps for the predicted and the true class")
    return 0


def run_embed(args: argparse.Namespace) -> int:
    run, loaded, source, split = _open(args, needs_layers=True)
    with tqdm(total=100, unit="%", dynamic_ncols=True) as bar:

        def progress(fraction: float, text: str) -> None:
            bar.set_description(text)
            bar.update(round(fraction * 100) - bar.n)

        points = embedding_map(run, args.checkpoint, source, loaded, split, progress)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["index", "x", "y", "true", "predicted", "confidence"])
    for i in range(len(points.index)):
        writer.writerow(
            [
                int(points.index[i]),
                f"{points.x[i]:.4f}",
                f"{points.y[i]:.4f}",
                loaded.classes[points.true[i]],
                loaded.classes[points.predicted[i]],
                f"{points.confidence[i]:.4f}",
            ]
        )
    out = Path(args.out)
    write_atomic(out, lambda handle: handle.write(text.getvalue().encode()))
    print(f"wrote {len(points.index)} points to {out}")
    return 0


def run_label_issues(args: argparse.Namespace) -> int:
    run, loaded, _, split = _open(args)
    suspects = label_issues(evaluate(loaded, split.images, split.labels, split.indices), split.name)
    items = [{key: item[key] for key in ("index", "given", "suggested", "score")} for item in suspects]
    if args.json:
        emit_json({"run": run.id, "split": split.name, "n": len(split.labels), "suspects": items})
        return 0
    print(f"{len(items)} suspect label(s) among {len(split.labels)} {split.name} images (suspects for a person to check, not verdicts):")
    for item in items[:20]:
        print(
            f"  #{item['index']:<6} labelled {item['given']:<11} the model suggests {item['suggested']:<11} "
            f"(label quality {item['score']:.3f})"
        )
    return 0
