"""How fast the Explain tools answer on this machine, as JSON.

Measures (targets on the 2-core CPU in brackets): Grad-CAM of 16 images for the predicted and the
true class with ``simple_cnn`` [1 s]; the embedding map (features, PCA, t-SNE) of a 5,000-image
validation split, computed and then read back from the run's cache [20 s]; and the Explain page's
"Every mistake" view drawn through ``AppTest`` once the split's evaluation is cached [1 s].

    python bench/explain_speed.py [--data PATH] [--run RUN_FOLDER] [--repeats 5]

Without ``--run`` a run folder is made in a temporary directory holding an *untrained* simple_cnn
checkpoint whose validation split is 5,000 of the source's training images: the costs measured
do not depend on the weights, except t-SNE's, which may settle faster on a trained model's features.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cifar_core.classes import CIFAR10_CLASSES  # noqa: E402
from cifar_core.data import load_cifar  # noqa: E402
from cifar_core.evaluate import load_run_model  # noqa: E402
from cifar_core.explain.embedding import embedding_map  # noqa: E402
from cifar_core.explain.saliency import saliency  # noqa: E402
from cifar_core.explain.scope import split_of  # noqa: E402
from cifar_core.models import build_model  # noqa: E402
from cifar_core.runs import Run, RunStore  # noqa: E402
from cifar_core.runs.checkpoint import CHECKPOINT_FORMAT, save_checkpoint  # noqa: E402
from cifar_core.train import TrainConfig  # noqa: E402

SHARED_TARBALL = ROOT.parent / "shared" / "data" / "cifar10-jpg-train.tar.gz"
VAL_IMAGES = 5_000


def untrained_run(root: Path, data: str, train_images: int) -> Run:
    """A run whose validation split holds 5,000 of the source's training images."""
    config = TrainConfig(model="simple_cnn", data=data, val_fraction=min(0.9, VAL_IMAGES / train_images), device="cpu")
    run = RunStore(root).create(config, "explain-bench")
    model = build_model("simple_cnn", dropout=config.dropout)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "classes": list(CIFAR10_CLASSES),
        "epoch": 0,
        "model": model.state_dict(),
    }
    save_checkpoint(run.checkpoint_path("best"), payload)
    return run


def time_gradcam(loaded, split, repeats: int) -> float:
    images, labels = split.images[:16], split.labels[:16]
    durations = []
    for _ in range(repeats + 1):  # the first call warms up and is dropped
        start = time.perf_counter()
        predicted = loaded.probabilities(images).argmax(dim=1)
        saliency(loaded.model, loaded.config.model, images, predicted, labels, "gradcam")
        durations.append(time.perf_counter() - start)
    return statistics.median(durations[1:])


def time_embedding(run: Run, loaded, data_source: str, split) -> tuple[float, float]:
    with tqdm(total=100, unit="%", file=sys.stderr) as bar:

        def progress(fraction: float, text: str) -> None:
            bar.set_description(text)
            bar.update(round(fraction * 100) - bar.n)

        start = time.perf_counter()
        embedding_map(run, "best", data_source, loaded, split, progress)
        computed = time.perf_counter() - start
    start = time.perf_counter()
    embedding_map(run, "best", data_source, loaded, split)
    return computed, time.perf_counter() - start


def time_mistakes_page(runs_root: Path, data_source: str, repeats: int) -> float:
    os.environ.update(CIFAR_EXPLORER_RUNS=str(runs_root), CIFAR_EXPLORER_DATA=data_source)
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=1800)
    app.run()
    app.switch_page("app_pages/explain.py").run()
    app.radio(key="explain_view").set_value("Every mistake").run()  # scores the split once (cached from here on)
    durations = []
    for _ in range(repeats):
        app.radio(key="explain_view").set_value("Saliency").run()
        app.radio(key="explain_view").set_value("Every mistake")
        start = time.perf_counter()
        app.run()
        durations.append(time.perf_counter() - start)
        if app.exception:
            raise SystemExit(f"the page raised: {app.exception[0].value}")
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_TARBALL), help="dataset (default: the shared CIFAR-10 tarball)")
    parser.add_argument("--run", type=Path, default=None, help="a trained simple_cnn run folder to use instead of an untrained one")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="explain-bench-") as scratch:
        if args.run is None:
            train_images = len(load_cifar(args.data).splits["train"].labels)
            run, weights = untrained_run(Path(scratch) / "runs", args.data, train_images), "untrained"
        else:
            run, weights = Run(args.run.resolve()), "trained"
        loaded = load_run_model(run, "best", "cpu")
        split = split_of(loaded, load_cifar(args.data), "val")
        gradcam_s = time_gradcam(loaded, split, args.repeats)
        if args.run is not None:  # never touch a real run's cache: measure on a copy of its folder
            import shutil

            shutil.copytree(run.dir, Path(scratch) / "runs" / run.id)
            run = Run(Path(scratch) / "runs" / run.id)
        embedding_s, cached_s = time_embedding(run, loaded, args.data, split)
        page_s = time_mistakes_page(Path(scratch) / "runs", args.data, args.repeats)
    print(
        json.dumps(
            {
                "bench": "explain_speed",
                "data": args.data,
                "weights": weights,
                "gradcam_16_images_pred_and_true_s": round(gradcam_s, 4),
                "embedding_images": len(split.labels),
                "embedding_computed_s": round(embedding_s, 2),
                "embedding_cached_s": round(cached_s, 3),
                "mistakes_first_page_s": round(page_s, 3),
                "targets_s": {"gradcam_16": 1.0, "embedding_5000": 20.0, "mistakes_first_page": 1.0},
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "load_average": os.getloadavg(),
                "machine": platform.platform(),
            }
        )
    )


if __name__ == "__main__":
    main()
