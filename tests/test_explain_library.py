"""Explain library pieces on the trained run: suspect labels, mistakes pages, the embedding map,
feature maps and the run-folder cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from explain_support import copy_of, trained_explain_run

from cifar_core.data import load_synthetic
from cifar_core.errors import DataError
from cifar_core.evaluate import evaluate, load_run_model
from cifar_core.explain import cache
from cifar_core.explain.embedding import EmbeddingMap, compute_embedding, penultimate_features
from cifar_core.explain.features import first_layer_filters, stage_maps
from cifar_core.explain.label_issues import label_issues
from cifar_core.explain.mistakes import mistakes, page, page_count
from cifar_core.explain.scope import split_of


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    run = trained_explain_run(tmp_path_factory)
    loaded = load_run_model(run)
    split = split_of(loaded, load_synthetic(), "val")
    return run, loaded, split, evaluate(loaded, split.images, split.labels, split.indices)


def test_deliberately_flipped_labels_are_among_the_top_suspects(scored):
    _, loaded, split, evaluation = scored
    confident = ((evaluation.preds == evaluation.labels) & (evaluation.probs.max(dim=1).values > 0.9)).nonzero().flatten()[:5]
    labels = split.labels.clone()
    # each given the class the model finds least likely: a flip no genuine mistake can out-rank on any
    # CPU (a flip to label+5 can be out-ranked by real confident mistakes of a slightly different model, as CI's is)
    labels[confident] = evaluation.probs[confident].argmin(dim=1)
    flipped = evaluate(loaded, split.images, labels, split.indices)
    suspects = label_issues(flipped, "val")
    top = {item["row"] for item in suspects[:10]}
    assert set(confident.tolist()) <= top
    for item in suspects:
        if item["row"] in set(confident.tolist()):
            assert item["suggested"] == evaluation.classes[int(split.labels[item["row"]])]  # the original label comes back
            assert item["given"] != item["suggested"]


def test_suspect_labels_refuse_images_the_model_trained_on(scored):
    evaluation = scored[3]
    with pytest.raises(DataError, match="need images the model did not train on"):
        label_issues(evaluation, "train")


def test_mistake_pages_cover_every_mistake_once(scored):
    evaluation = scored[3]
    everything = mistakes(evaluation)
    pages = [page(everything, number, size=7) for number in range(page_count(len(everything), 7))]
    assert [item for chunk in pages for item in chunk] == everything and page(everything, len(pages), 7) == []
    assert len(everything) == evaluation.n - int((evaluation.preds == evaluation.labels).sum())


def test_penultimate_features_and_predictions_come_from_the_same_pass(scored):
    _, loaded, split, evaluation = scored
    features, probs = penultimate_features(loaded, split.images)
    assert features.shape == (len(split.labels), 128) and (features >= 0).all()  # after the ReLU
    assert torch.equal(probs.argmax(dim=1), evaluation.preds)


def test_embedding_places_every_image_and_a_box_selects_exactly_its_points(scored):
    _, loaded, split, evaluation = scored
    steps = []
    points = compute_embedding(loaded, split, lambda fraction, text: steps.append(fraction))
    assert steps[0] == 0 and steps[-1] == 1 and steps == sorted(steps)
    assert np.array_equal(points.index, split.indices.numpy()) and np.isfinite(points.x).all()
    assert np.array_equal(points.predicted, evaluation.preds.numpy())
    x0, x1 = np.percentile(points.x, [20, 60])
    y0, y1 = np.percentile(points.y, [10, 90])
    inside = points.in_box((x1, x0), (y0, y1))
    expected = [i for i in range(len(points.x)) if x0 <= points.x[i] <= x1 and y0 <= points.y[i] <= y1]
    assert inside.tolist() == expected and 0 < len(expected) < len(points.x)
    assert EmbeddingMap.from_json(json.loads(json.dumps(points.to_json()))).in_box((x0, x1), (y0, y1)).tolist() == expected
    # same-class images sit closer together than images of different classes
    xy = np.stack([points.x, points.y], axis=1)
    distance = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    same = points.true[:, None] == points.true[None]
    assert distance[same].mean() < 0.7 * distance[~same].mean()


def test_feature_maps_of_every_stage_and_the_first_filters(scored):
    _, loaded, split, _ = scored
    stages = stage_maps(loaded.model, "simple_cnn", split.images[0], per_stage=8)
    assert [stage.maps.shape for stage in stages] == [(8, 32, 32), (8, 16, 16), (8, 8, 8), (8, 4, 4)]
    assert [stage.total_channels for stage in stages] == [16, 32, 64, 128]
    for stage in stages:
        assert stage.maps.min() >= 0 and stage.maps.max() <= 1 and len(set(stage.channels)) == 8
    filters = first_layer_filters(loaded.model, "simple_cnn")
    assert filters.shape == (16, 3, 3, 3) and filters.dtype == np.uint8
    assert (filters.reshape(16, -1).min(axis=1) == 0).all() and (filters.reshape(16, -1).max(axis=1) == 255).all()


def test_the_cache_ignores_stale_foreign_and_linked_files(scored, tmp_path):
    run = copy_of(scored[0], tmp_path)
    key = {**cache.checkpoint_key(run, "best"), "split": "val"}
    cache.write(run, "thing.json", key, {"a": 1})
    assert cache.read(run, "thing.json", key) == {"a": 1}
    assert cache.read(run, "thing.json", {**key, "split": "test"}) is None
    (run.dir / cache.FOLDER / "other.json").symlink_to(run.dir / cache.FOLDER / "thing.json")
    assert cache.read(run, "other.json", key) is None
    (run.dir / cache.FOLDER / "broken.json").write_text("{not json")
    assert cache.read(run, "broken.json", key) is None
