"""Two runs on the same images: the exact flip identity, paired intervals, McNemar, per-class deltas, the CLI."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import torch
from support import standing_in, tiny_config

from cifar_core.cli import main
from cifar_core.data import load_synthetic
from cifar_core.errors import DataError, RunError
from cifar_core.evaluate import Evaluation, LoadedModel
from cifar_core.paired import check_classes, check_pair, compare_evaluations, compare_runs
from cifar_core.runs import RunStore
from cifar_core.runs.process import execute

CLASSES = ("a", "b", "c")


def one_hot(preds: list[int], confidence: float = 0.8) -> torch.Tensor:
    probs = torch.full((len(preds), 3), (1 - confidence) / 2)
    probs[torch.arange(len(preds)), torch.tensor(preds)] = confidence
    return probs


def pair(labels: list[int], preds_a: list[int], preds_b: list[int]):
    truth, indices = torch.tensor(labels), torch.arange(len(labels)) + 100
    return compare_evaluations(
        Evaluation(CLASSES, truth, one_hot(preds_a), indices), Evaluation(CLASSES, truth, one_hot(preds_b, 0.9), indices)
    )


def random_pair(n: int = 300, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=generator)
    keep_a, keep_b = torch.rand(n, generator=generator) < 0.6, torch.rand(n, generator=generator) < 0.7
    preds_a = torch.where(keep_a, labels, torch.randint(0, 3, (n,), generator=generator))
    preds_b = torch.where(keep_b, labels, torch.randint(0, 3, (n,), generator=generator))
    return pair(labels.tolist(), preds_a.tolist(), preds_b.tolist())


def test_accuracy_difference_equals_the_flips_over_n_exactly():
    result = random_pair()
    gained, lost = len(result.flips()["wrong_to_right"]), len(result.flips()["right_to_wrong"])
    assert result.accuracy_b - result.accuracy_a == Fraction(gained - lost, result.n) == result.difference
    assert float(result.accuracy_a) == pytest.approx(result.a.accuracy) and float(result.accuracy_b) == pytest.approx(result.b.accuracy)
    assert result.interval.low <= float(result.difference) <= result.interval.high


def test_two_identical_models_have_an_interval_at_zero_and_no_winner():
    labels, preds = [0, 1, 2, 0, 1, 2, 0, 1], [0, 1, 1, 0, 2, 2, 0, 0]
    result = pair(labels, preds, preds)
    assert result.difference == 0 and result.interval.low == result.interval.high == 0 and result.mcnemar_p == 1.0
    assert result.summary().startswith("No difference we can tell")
    assert result.flips() == {"right_to_wrong": [], "wrong_to_right": []}
    assert not result.confusion_difference.any()


def test_mcnemar_exact_p_of_a_constructed_example_and_a_winner_only_outside_the_noise():
    # 8 images only B gets right, 2 only A: p = 2 * P(X >= 8 | n=10, 1/2) = 2 * (45 + 10 + 1) / 1024
    labels = [0] * 10 + [1] * 20
    preds_a = [1] * 8 + [0] * 2 + [1] * 20
    preds_b = [0] * 8 + [1] * 2 + [1] * 20
    result = pair(labels, preds_a, preds_b)
    assert (len(result.flips()["wrong_to_right"]), len(result.flips()["right_to_wrong"])) == (8, 2)
    assert result.mcnemar_p == pytest.approx(112 / 1024)
    assert result.difference == Fraction(6, 30)
    big = pair(labels * 20, preds_a * 20, preds_b * 20)  # the same effect on 600 images is well outside the noise
    assert not big.interval.covers_zero and big.summary().startswith("B gets more images right than A")


def test_per_class_deltas_weighted_by_support_sum_to_the_overall_difference():
    result = random_pair(seed=3)
    rows = result.class_deltas()
    assert sum(row["support"] for row in rows) == result.n
    assert sum(row["delta"] * row["support"] for row in rows) / result.n == result.difference
    for row in rows:
        assert row["interval"].low <= float(row["delta"]) <= row["interval"].high


def test_each_difference_cell_is_the_images_that_moved_in_minus_those_that_moved_out():
    result = random_pair(seed=5)
    difference = result.confusion_difference
    assert difference.sum(dim=1).tolist() == [0, 0, 0]
    for true in range(3):
        for predicted in range(3):
            moved_in, moved_out = result.moved(true, predicted)
            assert len(moved_in) - len(moved_out) == difference[true, predicted]
            assert (result.b.preds[moved_in] == predicted).all() and (result.a.preds[moved_in] != predicted).all()
            assert (result.a.labels[moved_out] == true).all()


def test_flips_carry_both_models_answers_and_json_is_strict():
    result = pair([0, 0, 1, 2], [0, 1, 1, 2], [1, 0, 1, 2])
    flips = result.flips()
    assert flips["right_to_wrong"] == [{"row": 0, "index": 100, "true": "a", "a": {"predicted": "a", "confidence": 0.800000011920929},
                                        "b": {"predicted": "b", "confidence": pytest.approx(0.9)}}]  # fmt: skip
    assert [item["index"] for item in flips["wrong_to_right"]] == [101]
    text = json.dumps(result.to_json(), allow_nan=False)
    per_class = json.loads(text)["per_class"]
    assert [row["support"] for row in per_class] == [2, 1, 1]


def test_a_class_without_images_has_no_delta_rather_than_nan():
    report = pair([0, 0, 1], [0, 1, 1], [0, 0, 1]).to_json()
    assert report["per_class"][2] == {**report["per_class"][2], "support": 0, "delta": None, "interval": [None, None]}
    json.dumps(report, allow_nan=False)


def test_evaluations_of_different_images_are_refused():
    truth = torch.tensor([0, 1])
    a = Evaluation(CLASSES, truth, one_hot([0, 1]), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="scored on different images"):
        compare_evaluations(a, Evaluation(CLASSES, truth, one_hot([0, 1]), torch.tensor([0, 2])))


def test_runs_trained_on_different_class_sets_are_refused(runs):
    model = torch.nn.Linear(1, 1)
    first = LoadedModel(model, tiny_config(), CLASSES, 1, torch.device("cpu"))
    second = LoadedModel(model, tiny_config(), ("a", "b", "d"), 1, torch.device("cpu"))
    with pytest.raises(DataError, match="trained on different class sets"):
        check_classes(first, second, *runs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    made = []
    for name, seed in (("run-a", 0), ("run-b", 1)):
        run = store.create(tiny_config(seed=seed, aug_p=0, mix_p=0), name)
        assert execute(run).status == "finished"
        made.append(run)
    return made


def test_two_trained_runs_compare_on_the_test_set_with_the_exact_identity(runs):
    result = compare_runs(*runs, load_synthetic(), "test", device="cpu")
    assert result.n == 200
    assert result.accuracy_b - result.accuracy_a == Fraction(int(result.gained.sum()) - int(result.lost.sum()), 200)
    with pytest.raises(DataError, match="hold out different val images"):
        compare_runs(*runs, load_synthetic(), "val", device="cpu")


def test_cli_json_is_one_strict_document(runs, capsys):
    assert main(["compare", "--run", str(runs[0].dir), "--run", str(runs[1].dir), "--data", "synthetic", "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run_a"] == "run-a" and report["run_b"] == "run-b" and report["n"] == 200
    assert report["difference"] == pytest.approx((report["wrong_to_right"] - report["right_to_wrong"]) / 200)
    assert report["interval_method"].startswith("paired bootstrap over images (2000 resamples")
    assert "McNemar" in report["test_method"] and len(report["confusion_difference"]) == 10
    assert report["calibration"]["binning"] == "15 equal-width confidence bins"
    assert len(report["flips"]["right_to_wrong"]) == report["right_to_wrong"]


def test_cli_bad_input_is_one_sentence_and_exit_2(runs, tmp_path, capsys):
    a, b = (str(run.dir) for run in runs)
    assert main(["compare", "--run", a, "--run", a]) == 2
    assert capsys.readouterr().err == "error: Both runs are run-a; pick two different runs to compare.\n"
    assert main(["compare", "--run", a]) == 2
    assert "exactly two runs" in capsys.readouterr().err
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    (unlabelled / "1.png").write_bytes(b"not a png")
    assert main(["compare", "--run", a, "--run", b, "--data", str(unlabelled)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_run_still_training_is_refused(runs):
    with standing_in(runs[1]) as me:  # this process stands in for the worker
        runs[1].update_status(state="running", **me)
        try:
            with pytest.raises(RunError, match="run-b is still training"):
                check_pair(*runs)
        finally:
            runs[1].update_status(state="finished", pid=None)
