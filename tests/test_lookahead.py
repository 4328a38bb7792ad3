"""Lookahead weight averaging: its schedule, its update rule, and how a run ends with it."""

import copy

import pytest
import torch
from torch import nn

from cifar_core.data import load_synthetic
from cifar_core.train import TrainConfig, train
from cifar_core.train.lookahead import EVERY_STEPS, FINAL_DECAY, Lookahead


def test_decay_grows_cubically_from_zero_to_the_final_value():
    assert Lookahead.decay(0.0) == 0.0
    assert Lookahead.decay(1.0) == pytest.approx(0.95**5)
    assert Lookahead.decay(0.5) == pytest.approx(FINAL_DECAY / 8)
    assert Lookahead.decay(2.0) == Lookahead.decay(1.0)


def test_sync_moves_the_slow_weights_towards_the_trained_ones_and_resets_the_model_onto_them():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    lookahead = Lookahead(model)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(4.0)
    lookahead.sync(0.75)
    assert torch.allclose(model[0].weight, start["0.weight"] + 0.25)
    assert torch.allclose(model[1].running_mean, torch.full((2,), 1.0))
    assert torch.equal(lookahead.state_dict()["0.weight"], model[0].weight)
    assert "1.num_batches_tracked" not in lookahead.state_dict()  # integer counters are left alone


def test_step_only_syncs_every_few_steps():
    model = nn.Linear(2, 2)
    lookahead = Lookahead(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    trained = model.weight.clone()
    lookahead.step(EVERY_STEPS - 1, 10)
    assert torch.equal(model.weight, trained)
    lookahead.step(EVERY_STEPS, 10)
    assert not torch.equal(model.weight, trained)


@pytest.mark.slow  # a minute of training to show it still learns; the exact-weights tests above stay in CI
def test_a_lookahead_run_ends_on_its_slow_weights_and_still_learns():
    data = load_synthetic(n_per_class=40, seed=0, n_test_per_class=10)
    # 320 training images at batch 30: 11 steps an epoch, 33 in all, so the run does not end on a sync
    config = TrainConfig(data="synthetic", epochs=3, batch_size=30, lr=3e-3, seed=0, device="cpu", lookahead=True)
    saved = {}
    result = train(config, data, save=lambda name, state: saved.__setitem__(name, copy.deepcopy(state)))
    final = saved["last"]
    assert final["lookahead"] is not None
    for name, slow in final["lookahead"].items():
        assert torch.equal(final["model"][name], slow), name
    assert result.history[-1]["val_acc"] > 0.3  # 10 classes: chance is 0.1
