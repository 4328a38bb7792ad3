"""One training step: the engine and the study's throughput probe compute the same way, and
checkpoints carry every generator a resume needs (CUDA's included)."""

from __future__ import annotations

import copy
from functools import partial
from unittest import mock

import pytest
import support
import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

from cifar_core.data import load_synthetic
from cifar_core.study.estimate import probe_throughput
from cifar_core.train import engine, train


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic(n_per_class=10, seed=0, n_test_per_class=0)


tiny_config = partial(support.tiny_config, batch_size=32, lr=3e-3, limit=None)  # all 100 images of ``synthetic``


def _how_convolutions_ran(work) -> set[tuple[bool, bool, bool]]:
    """(bf16 autocast on, weight channels_last, input channels_last) of every convolution ``work`` ran."""
    seen = set()

    def record(module, args):
        if isinstance(module, nn.Conv2d) and module.kernel_size != (1, 1):  # 1x1 weights are both layouts at once
            seen.add(
                (
                    torch.is_autocast_enabled("cpu"),
                    module.weight.is_contiguous(memory_format=torch.channels_last),
                    args[0].is_contiguous(memory_format=torch.channels_last),
                )
            )

    handle = register_module_forward_pre_hook(record)
    try:
        work()
    finally:
        handle.remove()
    return seen


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_study_estimate_times_the_precision_and_memory_layout_the_engine_trains_with(synthetic, precision):
    config = tiny_config(precision=precision)
    probed = _how_convolutions_ran(lambda: probe_throughput(config, steps=1))
    trained = _how_convolutions_ran(lambda: train(config, synthetic))
    assert probed == trained == {(precision == "bf16", True, True)}


def test_a_checkpoint_carries_the_cuda_generators_and_resumes_without_them_on_a_cpu(synthetic):
    config = tiny_config(epochs=2, dropout=0.3, aug_p=0.3)
    saved = {}
    train(config, synthetic, save=saved.__setitem__, should_stop=lambda: "last" in saved)
    state = saved["last"]
    assert "cuda_rng" in state
    if torch.cuda.is_available():
        assert len(state["cuda_rng"]) == torch.cuda.device_count()
    else:
        assert state["cuda_rng"] is None
    straight = train(config, synthetic)
    resumed = train(config, synthetic, resume=copy.deepcopy(state))  # a resume trains the optimiser state it is given in place
    older = train(config, synthetic, resume={key: value for key, value in state.items() if key != "cuda_rng"})  # saved before the field
    expected = [h["train_loss"] for h in straight.history]
    assert [h["train_loss"] for h in resumed.history] == expected == [h["train_loss"] for h in older.history]


def test_with_cuda_present_the_checkpoint_saves_every_gpus_generator_and_resume_restores_each(synthetic, monkeypatch):
    """Where GPUs are, each one's generator is saved and restored. CPU-testable: while the engine
    builds and restores a checkpoint, two GPUs are stood in for (CUDA itself is never touched)."""
    gpu_states = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4, 5, 6], dtype=torch.uint8)]
    restored = []
    two_gpus = mock.patch.multiple(
        torch.cuda,
        is_available=lambda: True,
        device_count=lambda: len(gpu_states),
        get_rng_state_all=lambda: [state.clone() for state in gpu_states],
        set_rng_state=lambda state, device: restored.append((device, state.tolist())),
    )
    for name in ("checkpoint_state", "restore"):
        monkeypatch.setattr(engine, name, two_gpus(getattr(engine, name)))
    config = tiny_config(epochs=2)
    saved = {}
    train(config, synthetic, save=saved.__setitem__, should_stop=lambda: "last" in saved)
    assert [state.tolist() for state in saved["last"]["cuda_rng"]] == [[1, 2, 3], [4, 5, 6]]
    train(config, synthetic, resume=saved["last"])
    assert restored == [(0, [1, 2, 3]), (1, [4, 5, 6])]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resume_on_cuda_draws_the_same_dropout_masks_as_an_uninterrupted_run(synthetic, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    try:
        config = tiny_config(epochs=2, dropout=0.5, device="cuda", precision="fp32")
        straight = train(config, synthetic)
        saved = {}
        train(config, synthetic, save=saved.__setitem__, should_stop=lambda: "last" in saved)
        resumed = train(config, synthetic, resume=saved["last"])
        assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    finally:
        torch.use_deterministic_algorithms(False)
