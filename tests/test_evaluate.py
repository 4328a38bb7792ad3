"""Evaluation: scores that agree with a hand count, confusion pairs, misclassified galleries."""

from __future__ import annotations

import pytest
import torch
from data_fixtures import png_bytes

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.data import load_cifar, load_synthetic
from cifar_core.errors import CheckpointError, DataError
from cifar_core.evaluate import (
    Evaluation,
    evaluate,
    labelled_splits,
    load_run_model,
    most_confused_pairs,
    predict_unlabelled,
    source_split_images,
    split_images,
)
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute
from cifar_core.train import TrainConfig

CLASSES = ("a", "b", "c")


def test_evaluation_scores_agree_with_a_hand_count():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    result = Evaluation(CLASSES, labels, probs, torch.arange(6) + 100)
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.loss == pytest.approx(-torch.tensor([0.8, 0.2, 0.8, 0.6, 0.3, 0.8]).log().mean().item(), rel=1e-5)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    per_class = result.per_class()
    assert per_class["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8), "support": 2}
    assert per_class["c"]["recall"] == 0.5 and per_class["c"]["precision"] == 1.0


def test_misclassified_returns_exactly_one_confusion_cell_with_sorted_top3():
    labels = torch.tensor([0, 0, 0, 1])
    probs = torch.tensor([[0.2, 0.7, 0.1], [0.4, 0.5, 0.1], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]])
    result = Evaluation(CLASSES, labels, probs, torch.tensor([10, 11, 12, 13]))
    cell = result.misclassified(true_class=0, predicted_class=1)
    assert [row["index"] for row in cell] == [10, 11]  # most confident mistake first
    assert cell[0]["true"] == "a" and cell[0]["predicted"] == "b"
    assert [name for name, _ in cell[0]["top3"]] == ["b", "a", "c"]
    assert len(result.misclassified()) == 4 - 0  # every row here is wrong


def test_a_cell_holds_exactly_its_images_diagonal_included_most_confident_first():
    labels = torch.tensor([0, 0, 0, 1, 0])
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.5, 0.4, 0.1]])
    result = Evaluation(CLASSES, labels, probs, torch.tensor([10, 11, 12, 13, 14]))
    assert [row["index"] for row in result.cell(0, 0)] == [11, 10, 14]  # the correct a's, surest first
    assert [row["index"] for row in result.cell(0, 1)] == [12] and result.cell(1, 1) == []
    assert [row["index"] for row in result.cell(1, 0)] == [13]
    assert sum(len(result.cell(t, p)) for t in range(3) for p in range(3)) == 5


def test_most_confused_pairs_are_ordered_by_count_with_row_rates():
    confusion = torch.tensor([[5, 3, 0], [1, 8, 1], [0, 4, 2]])
    pairs = most_confused_pairs(confusion, CLASSES)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [("c", "b", 4), ("a", "b", 3), ("b", "a", 1), ("b", "c", 1)]
    assert pairs[0]["rate"] == pytest.approx(4 / 6)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    run = store.create(TrainConfig(data="synthetic", epochs=2, limit=300, batch_size=64, device="cpu", aug_p=0, mix_p=0), "eval-run")
    assert execute(run).status == "finished"
    return run


def test_a_run_model_reproduces_its_recorded_validation_accuracy(trained_run):
    loaded = load_run_model(trained_run, "last")
    data = load_synthetic()
    images, labels, indices = split_images(loaded.config, data, "val")
    assert len(labels) == 60
    result = evaluate(loaded, images, labels, indices)
    assert result.accuracy == pytest.approx(trained_run.events("epoch")[-1]["val_acc"])
    assert torch.equal(data.splits["train"].labels[result.indices], labels)


@pytest.mark.parametrize("mode", ["flip", "flip_shift"])
def test_tta_changes_probabilities_but_keeps_shape(trained_run, mode):
    loaded = load_run_model(trained_run)
    images = load_synthetic().splits["train"].images[:32]
    plain, tta = loaded.probabilities(images), loaded.probabilities(images, tta=mode)
    assert plain.shape == tta.shape == (32, 10)
    assert torch.allclose(tta.sum(1), torch.ones(32), atol=1e-5) and not torch.allclose(plain, tta)


def test_missing_checkpoint_and_unlabelled_test_split_are_clear_errors(trained_run, tmp_path):
    empty = RunStore(tmp_path).create(TrainConfig(data="synthetic"), "never-trained")
    with pytest.raises(CheckpointError, match="Checkpoint not found"):
        load_run_model(empty)
    config = TrainConfig(data="synthetic", train_on_full=True)
    with pytest.raises(DataError, match="no validation split"):
        split_images(config, load_synthetic(), "val")


def write_folder(root, images, labels=None):
    """``root/test/<class>/<k>.png`` when labelled, else ``root/<k>.png``."""
    for number, image in enumerate(images, start=1):
        path = root / "test" / CIFAR10_CLASSES[int(labels[number - 1])] / f"{number}.png" if labels is not None else root / f"{number}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(image.numpy()))
    return root


def test_a_separate_test_only_source_is_scored_whole_and_refuses_the_runs_own_parts(trained_run, tmp_path):
    test = load_synthetic().splits["test"]
    source = write_folder(tmp_path / "held-out", test.images[:40], test.labels[:40])
    data = load_cifar(source, cache_dir=tmp_path / "cache")
    assert labelled_splits(data) == ["test"]
    images, labels, indices = source_split_images(data, "test")
    assert len(labels) == 40 and indices.tolist() == list(range(40))
    loaded = load_run_model(trained_run)
    result = evaluate(loaded, images, labels, indices)
    direct = evaluate(loaded, test.images[:40], test.labels[:40])  # class-grouped order differs; the counts must not
    assert result.confusion.sum() == 40 and sorted(result.confusion.sum(1).tolist()) == sorted(direct.confusion.sum(1).tolist())
    assert result.accuracy == pytest.approx(direct.accuracy)
    with pytest.raises(DataError, match="no labelled training images.*score its test images instead"):
        split_images(loaded.config, data, "val")
    with pytest.raises(DataError, match="has no train split; it holds test images"):
        source_split_images(data, "train")


def test_unlabelled_images_are_predicted_with_one_row_per_id(trained_run, tmp_path):
    images = load_synthetic().splits["test"].images[:12]
    folder = write_folder(tmp_path / "unlabelled", images)
    loaded = load_run_model(trained_run)
    heard = []
    predictions = predict_unlabelled(loaded, folder, batch_size=5, on_batch=lambda done, _: heard.append(done))
    assert heard == [5, 10, 12]
    assert predictions.ids == [str(number) for number in range(1, 13)]
    expected = [loaded.classes[int(p)] for p in loaded.probabilities(images).argmax(1)]
    assert predictions.labels == expected
    lines = predictions.to_csv().splitlines()
    assert lines[0] == "id,label" and lines[1:] == [f"{number},{label}" for number, label in zip(range(1, 13), expected)]


def test_a_submission_never_holds_one_id_twice(trained_run, tmp_path):
    """Two files named 1.png in two folders: distinct ids (the data layer's id logic) or a refusal, never two rows "1"."""
    images = load_synthetic().splits["test"].images[:2]
    for folder, image in zip(("a", "b"), images):
        (tmp_path / "set" / folder).mkdir(parents=True)
        (tmp_path / "set" / folder / "1.png").write_bytes(png_bytes(image.numpy()))
    try:
        predictions = predict_unlabelled(load_run_model(trained_run), tmp_path / "set")
    except DataError as exc:
        assert "several images with the same id (1)" in str(exc)
    else:
        assert len(predictions) == 2 and len(set(predictions.ids)) == 2
