"""The embedding map: each image of a split as a point, placed by what the network makes of it.

The penultimate features (the registry's ``ExplainLayers.features``) are reduced with PCA to 50
dimensions, then laid out in 2-D by t-SNE (scikit-learn), which keeps images the network treats
alike close together: where two classes' clouds overlap, the model cannot tell them apart. The
features come from the same batched forward pass as the predictions, so a point's prediction is
exactly the one ``evaluate`` reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from cifar_core.evaluate import LoadedModel
from cifar_core.explain import cache
from cifar_core.explain.scope import SplitImages
from cifar_core.models import explain_layers
from cifar_core.models.inference import predict_logits
from cifar_core.runs import Run

PCA_DIMENSIONS = 50
TSNE_ITERATIONS = 500
"""t-SNE steps (scikit-learn's minimum is 250, its default 1,000): 500 settle 5,000 points here
at half the cost; the map's clusters do not change visibly after that."""
StageProgress = Callable[[float, str], None]
"""Called at each stage of computing a map with (share done, 0..1; the stage, in words)."""


@dataclass(frozen=True)
class EmbeddingMap:
    """Points of one split: ``x``, ``y`` and, per point, source index, true and predicted class, confidence."""

    index: np.ndarray
    x: np.ndarray
    y: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray

    def to_json(self) -> dict[str, list]:
        return {name: getattr(self, name).tolist() for name in ("index", "x", "y", "true", "predicted", "confidence")}

    @classmethod
    def from_json(cls, values: dict[str, list]) -> EmbeddingMap:
        return cls(
            index=np.asarray(values["index"], dtype=np.int64),
            x=np.asarray(values["x"], dtype=np.float32),
            y=np.asarray(values["y"], dtype=np.float32),
            true=np.asarray(values["true"], dtype=np.int64),
            predicted=np.asarray(values["predicted"], dtype=np.int64),
            confidence=np.asarray(values["confidence"], dtype=np.float32),
        )

    def in_box(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
        """Positions of the points inside a selection box (ends in either order)."""
        (x0, x1), (y0, y1) = sorted(x_range), sorted(y_range)
        return np.flatnonzero((self.x >= x0) & (self.x <= x1) & (self.y >= y0) & (self.y <= y1))


def penultimate_features(loaded: LoadedModel, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [N, D], probabilities [N, C]) from one batched pass, with a hook on the feature layer."""
    layer = loaded.model.get_submodule(explain_layers(loaded.config.model).features)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output.detach().float().flatten(1).cpu()))
    try:
        logits = predict_logits(loaded.model, images, loaded.device, precision=loaded.config.precision)
    finally:
        handle.remove()
    features = torch.cat(captured) if captured else torch.empty(0, 0)
    return features, logits.softmax(dim=1)


def layout(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """PCA to at most 50 dimensions, then a 2-D t-SNE: [N, 2]."""
    n = len(features)
    if n < 5:
        return np.zeros((n, 2), dtype=np.float32)
    reduced = PCA(n_components=min(PCA_DIMENSIONS, n, features.shape[1]), random_state=seed).fit_transform(features)
    tsne = TSNE(
        n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", learning_rate="auto", max_iter=TSNE_ITERATIONS, random_state=seed
    )
    return tsne.fit_transform(reduced).astype(np.float32)


def compute_embedding(loaded: LoadedModel, split: SplitImages, progress: StageProgress | None = None) -> EmbeddingMap:
    """The map of every image of ``split`` (no cache; see ``embedding_map``)."""
    report = progress or (lambda fraction, text: None)
    report(0.0, f"Reading the network's features of {len(split.labels):,} images…")
    features, probs = penultimate_features(loaded, split.images)
    report(0.3, "Reducing with PCA, then laying out with t-SNE…")
    points = layout(features.numpy())
    report(1.0, "Done.")
    confidence, predicted = probs.max(dim=1)
    return EmbeddingMap(split.indices.numpy(), points[:, 0], points[:, 1], split.labels.numpy(), predicted.numpy(), confidence.numpy())


def _stored_as(run: Run, which: str, data_source: str, split: SplitImages) -> tuple[str, dict]:
    """The file name and key a split's map is stored under in ``<run>/explain/``."""
    key = {**cache.checkpoint_key(run, which), "split": split.name, "data": data_source, "n": len(split.labels), "version": 1}
    return f"embedding-{split.name}-{which}.json", key


def stored_embedding(run: Run, which: str, data_source: str, split: SplitImages) -> EmbeddingMap | None:
    """The split's map when computed from this checkpoint before (a page shows progress only otherwise), else None."""
    stored = cache.read(run, *_stored_as(run, which, data_source, split))
    return None if stored is None else EmbeddingMap.from_json(stored)


def embedding_map(
    run: Run, which: str, data_source: str, loaded: LoadedModel, split: SplitImages, progress: StageProgress | None = None
) -> EmbeddingMap:
    """The split's map from ``<run>/explain/`` when computed from this checkpoint before, else computed and stored."""
    stored = stored_embedding(run, which, data_source, split)
    if stored is not None:
        return stored
    result = compute_embedding(loaded, split, progress)
    cache.write(run, *_stored_as(run, which, data_source, split), result.to_json())
    return result
