"""bench/gpu_bench.py's parts that run without a GPU: the record section's data export and
trial-count copies, reading the records' printed table, the goal's ratio, and fast_wide's levers.

The record scripts themselves need CUDA; here they are only copied (the real ones, where
``shared/peers/airbench`` is present) and stood in for by small scripts printing their table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gpu_bench  # noqa: E402
import gpu_summary  # noqa: E402
from time_to_accuracy import split_config  # noqa: E402

from cifar_core.classes import CIFAR10_CLASSES  # noqa: E402
from cifar_core.data import load_synthetic  # noqa: E402
from cifar_core.train.presets import get_preset  # noqa: E402
from cifar_core.train.splits import run_splits  # noqa: E402

# airbench94_muon's table: a warm-up run (random labels, compiles) and then the trials
MUON_TABLE = """\
---------------------------------------------------------------------------------
|  run     |  epoch  |  train_acc  |  val_acc  |  tta_val_acc  |  time_seconds  |
---------------------------------------------------------------------------------
|  warmup  |      0  |     0.1010  |   0.0990  |               |        41.2000  |
|          |   eval  |     0.1010  |   0.0990  |       0.1002  |        42.0000  |
---------------------------------------------------------------------------------
|       0  |      0  |     0.5500  |   0.6100  |               |         0.2100  |
|          |      1  |     0.7400  |   0.8100  |               |         0.4300  |
|          |   eval  |     0.7400  |   0.8100  |       0.9120  |         1.6000  |
---------------------------------------------------------------------------------
"""
# airbench94's table: no warm-up run, other columns, the time column named total_time_seconds
LEGACY_TABLE = """\
-----------------------------------------------------------------------------------------------------
|  run     |  epoch  |  train_loss  |  train_acc  |  val_acc  |  tta_val_acc  |  total_time_seconds  |
-----------------------------------------------------------------------------------------------------
|       0  |      0  |      1.2000  |     0.5000  |   0.6000  |               |              0.9000  |
|          |   eval  |      1.0000  |     0.8000  |   0.8900  |       0.9050  |              3.5000  |
-----------------------------------------------------------------------------------------------------
|       1  |      0  |      1.2000  |     0.5000  |   0.6000  |               |              0.3000  |
|          |   eval  |      1.0000  |     0.8000  |   0.8900  |       0.9070  |              2.0000  |
-----------------------------------------------------------------------------------------------------
|       2  |      0  |      1.2000  |     0.5000  |   0.6000  |               |              0.3000  |
|          |   eval  |      1.0000  |     0.8000  |   0.8900  |       0.9030  |              2.2000  |
-----------------------------------------------------------------------------------------------------
Mean: 0.9050    Std: 0.0020
"""


@pytest.fixture(scope="module")
def data():
    return load_synthetic(n_per_class=20)


@pytest.fixture(scope="module")
def peers() -> Path:
    try:
        return gpu_bench.peers_folder(None)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_record_export_is_our_fixed_split_train_as_train_pt_and_validation_as_test_pt(data, tmp_path):
    config = split_config("airbench_gpu", data, 0, "cpu", {})
    sizes = gpu_bench.export_split(config, data, tmp_path)
    assert sizes == {"train.pt": 180, "test.pt": 20}
    splits = run_splits(config, data)  # the engine's own split, as train() takes it
    source = data.splits["train"]
    for name, indices in (("train.pt", splits.train), ("test.pt", splits.val)):
        saved = torch.load(tmp_path / "cifar10" / name, weights_only=True)
        assert saved["images"].dtype == torch.uint8 and saved["labels"].dtype == torch.int64
        assert tuple(saved["images"].shape) == (len(indices), 32, 32, 3)
        assert saved["classes"] == list(CIFAR10_CLASSES)
        # NHWC with the channels in the source's (RGB) order: pixel (y=5, x=7) of the first image
        assert torch.equal(saved["images"][0, 5, 7], source.images[indices[0], :, 5, 7])
        assert torch.equal(saved["images"], source.images[indices].permute(0, 2, 3, 1))
        assert torch.equal(saved["labels"], source.labels[indices])
    # stratified: 2 of each class's 20 images held out, and no image in both files
    assert torch.bincount(source.labels[splits.val], minlength=10).tolist() == [2] * 10
    assert not set(splits.train.tolist()) & set(splits.val.tolist())
    checked = gpu_bench.check_export(config, data, tmp_path)
    assert checked["test.pt"] == {"images": [20, 32, 32, 3], "labels": [0, 9], "equals_split_val": True}


def test_the_split_is_the_same_for_every_training_seed(data):
    val = {seed: run_splits(split_config("airbench_gpu", data, seed, "cpu", {}), data).val.tolist() for seed in (0, 3)}
    assert val[0] == val[3]


def test_check_export_refuses_a_test_pt_that_is_not_our_validation_images(data, tmp_path):
    config = split_config("airbench_gpu", data, 0, "cpu", {})
    gpu_bench.export_split(config, data, tmp_path)
    path = tmp_path / "cifar10" / "test.pt"
    saved = torch.load(path, weights_only=True)
    saved["images"] = saved["images"].flip(0)  # the same images in another order
    torch.save(saved, path)
    with pytest.raises(ValueError, match="does not hold the split's val images and labels in order"):
        gpu_bench.check_export(config, data, tmp_path)
    saved["images"] = saved["images"].permute(0, 3, 1, 2).contiguous()  # NCHW, as our tensors are
    torch.save(saved, path)
    with pytest.raises(ValueError, match=r"not uint8 \[N, 32, 32, 3\]"):
        gpu_bench.check_export(config, data, tmp_path)


@pytest.mark.parametrize("name", list(gpu_bench.RECORDS))
def test_trial_copy_of_each_real_record_script_changes_only_its_trial_loop(peers, tmp_path, name):
    record = gpu_bench.RECORDS[name]
    original = (peers / record["script"]).read_text().splitlines()
    copy = gpu_bench.with_trials(peers / record["script"], record["published_trials"], 3, tmp_path)
    assert copy == tmp_path / record["script"]
    changed = copy.read_text().splitlines()
    assert len(changed) == len(original)
    differing = [i for i, (a, b) in enumerate(zip(original, changed)) if a != b]
    assert len(differing) == 1
    line = original[differing[0]]
    assert f"for run in range({record['published_trials']})]" in line
    assert changed[differing[0]] == line.replace(f"range({record['published_trials']})", "range(3)")


def test_trial_copy_refuses_a_script_whose_trial_loop_is_not_as_published(tmp_path):
    script = tmp_path / "airbench94.py"
    script.write_text("accs = torch.tensor([main(run) for run in range(100)])\n")
    (tmp_path / "copies").mkdir()
    with pytest.raises(ValueError, match=r"trial loop `for run in range\(25\)\]` once but holds it 0 times: the public script has changed"):
        gpu_bench.with_trials(script, 25, 3, tmp_path / "copies")
    script.write_text("a = [main(run) for run in range(25)]\nb = [main(run) for run in range(25)]\n")
    with pytest.raises(ValueError, match="holds it 2 times"):
        gpu_bench.with_trials(script, 25, 3, tmp_path / "copies")
    assert not (tmp_path / "copies" / "airbench94.py").exists()


def test_record_trials_are_read_off_both_scripts_tables_without_the_warm_up_run():
    trials, warm_up = gpu_bench.record_trials(MUON_TABLE)
    assert warm_up is True
    assert trials == [{"run": 0, "val_tta": 0.912, "seconds": 1.6}]
    trials, warm_up = gpu_bench.record_trials(LEGACY_TABLE)
    assert warm_up is False
    assert [(t["run"], t["val_tta"], t["seconds"]) for t in trials] == [(0, 0.905, 3.5), (1, 0.907, 2.0), (2, 0.903, 2.2)]
    assert gpu_bench.record_trials("Traceback (most recent call last):\n  RuntimeError: no CUDA\n") == ([], False)


def _printing_script(folder: Path, table: str, then: str = "") -> Path:
    """A stand-in for a record script: prints its table (unflushed, as they do), then ``then``."""
    script = folder / "record.py"
    script.write_text(f"import time\nprint({table!r})\n{then}\n")
    return script


def test_run_record_times_all_but_the_first_trial_of_a_script_without_a_warm_up(tmp_path):
    log = tmp_path / "record_airbench94.txt"
    result = gpu_bench.run_record(_printing_script(tmp_path, LEGACY_TABLE), 60, log)
    assert result["status"] == "ok"
    assert result["trials_run"] == 3
    assert result["val_tta"] == {"mean": 0.905, "std": 0.002, "n": 3}
    assert result["time_s"] == {"mean": 2.1, "std": 0.141, "n": 2}
    assert result["time_s_every_trial"]["n"] == 3
    assert log.read_text().strip() == LEGACY_TABLE.strip()


def test_run_record_stopped_at_its_timeout_keeps_the_trials_it_printed(tmp_path):
    result = gpu_bench.run_record(_printing_script(tmp_path, MUON_TABLE, then="time.sleep(60)"), 3, tmp_path / "log.txt")
    assert result["status"] == "stopped after 3 s"
    assert result["trials_run"] == 1
    assert result["time_s"] == {"mean": 1.6, "std": 0.0, "n": 1}


def test_vs_record_sets_both_times_side_by_side_with_their_ratio_and_the_goal():
    ours = {"train_and_tta_s": {"mean": 3.0}, "val_tta": {"mean": 0.9065}}
    records = {
        "airbench94": {"time_s": {"mean": 2.0, "n": 4}, "val_tta": {"mean": 0.9043}},
        "airbench94_muon": {"time_s": {"mean": 3.2, "n": 5}, "val_tta": {"mean": 0.915}},
        "stopped": {"status": "stopped after 100 s", "time_s": {"n": 0}},
    }
    table = gpu_bench.vs_record(ours, records)
    assert table["airbench94"] == {
        "ours_s": 3.0,
        "record_s": 2.0,
        "ratio_ours_to_record": 1.5,
        "ours_val_tta": 0.9065,
        "record_val_tta": 0.9043,
        "goal_met": False,
    }
    assert table["airbench94_muon"]["ratio_ours_to_record"] == 0.94 and table["airbench94_muon"]["goal_met"] is True
    assert table["stopped"] == {"not_measured": "stopped after 100 s"}
    assert table["goal"] == {"val_tta_at_least": 0.906, "time_ratio_at_most": 1.0}


def test_gpu_summary_puts_the_record_comparison_at_the_top(tmp_path):
    comparison = {"airbench94": {"ours_s": 3.0, "record_s": 2.0, "ratio_ours_to_record": 1.5}}
    lines = [
        {"section": "env", "status": "ok", "seconds": 9.0, "summary": {"card": "NVIDIA H200"}},
        {"section": "record", "status": "partial", "summary": {"vs_record": comparison}},
    ]
    (tmp_path / "sections.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = gpu_summary.summary(tmp_path)
    assert report["card"] == "NVIDIA H200"
    assert report["vs_record"] == comparison


# fast_wide as the records' levers make it: Muon, alternating flip, reflected shifts
NEW_FAST_WIDE = {
    **get_preset("fast_wide").values,
    "muon_lr": 0.24,
    "muon_momentum": 0.6,
    "augment_params": {"hflip": {"alternate": True}, "translate": {"translate": [0.0625, 0.0625], "p": 1.0, "padding": "reflect"}},
}


def _settings(values: dict) -> dict:
    """What a recipe trains with that the levers touch, defaults filled in."""
    config = get_preset("fast_wide").config(**values)
    ops = {op.name: op.resolved() for op in config.augment_config().ops}
    return {
        "muon_lr": config.muon_lr,
        "alternate": ops["hflip"]["alternate"],
        "padding": ops["translate"]["padding"],
        "whiten_bias_epochs": config.model_options.get("whiten_bias_epochs"),
        "widths": config.model_options["widths"],
    }


def test_fast_wide_levers_each_change_one_setting_of_the_new_recipe():
    base = _settings(NEW_FAST_WIDE)
    assert base == {"muon_lr": 0.24, "alternate": True, "padding": "reflect", "whiten_bias_epochs": None, "widths": [64, 256, 256]}
    expected = {
        "muon_off": {"muon_lr": None},
        "alternating_flip_off": {"alternate": False},
        "reflect_padding_off": {"padding": "zeros"},
        "whiten_bias_3_epochs_on": {"whiten_bias_epochs": 3},
    }
    levers = gpu_bench.fast_wide_levers(NEW_FAST_WIDE)
    assert set(levers) == set(expected)
    for name, changes in levers.items():
        assert _settings({**NEW_FAST_WIDE, **changes}) == {**base, **expected[name]}, name
        assert not gpu_bench.same_training(
            get_preset("fast_wide").config(**{**NEW_FAST_WIDE, **changes}), get_preset("fast_wide").config(**NEW_FAST_WIDE)
        )


def test_a_lever_the_recipe_already_lacks_counts_as_the_same_training():
    plain = {**get_preset("fast_wide").values, "augment_params": {"translate": {"translate": [0.0625, 0.0625], "p": 1.0}}}
    off = gpu_bench.fast_wide_levers(plain)
    config = get_preset("fast_wide").config
    assert gpu_bench.same_training(config(**{**plain, **off["alternating_flip_off"]}), config(**plain))
    assert gpu_bench.same_training(config(**{**plain, **off["reflect_padding_off"]}), config(**plain))
    assert not gpu_bench.same_training(config(**{**plain, **off["whiten_bias_3_epochs_on"]}), config(**plain))
