"""The speed records' levers and the GPU speed paths, each switchable, at tiny size on the CPU.

Reflect padding, alternating flip, Muon for conv filters, the whitening bias trained for the first
epochs only, whole-epoch augmentation, validation and checkpoints every N epochs.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from cifar_core.augment import AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.augment.functional import translate
from cifar_core.augment.sampling import alternate_flip_mask
from cifar_core.data import load_synthetic
from cifar_core.errors import ConfigError
from cifar_core.models import build_model
from cifar_core.train import TrainConfig, optim, train
from cifar_core.train.optim import Muon, make_optimizer, orthogonalise


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic(n_per_class=40, seed=0, n_test_per_class=10)


def fast_config(**changes) -> TrainConfig:
    values = dict(
        model="fast_cnn",
        model_options={"widths": [8, 16, 16]},
        dropout=0.0,
        data="synthetic",
        epochs=2,
        batch_size=64,
        optimizer="sgd",
        lr=0.2,
        limit=400,
        seed=0,
        device="cpu",
        log_every=2,
        augment_ops=["hflip", "translate"],
        aug_p=0.5,
        mix_p=0.0,
    )
    values.update(changes)
    return TrainConfig(**values)


def run(config, data):
    events, saved = [], []
    # a checkpoint's tensors are the live ones (the run store writes them at once): copy them
    result = train(
        config, data, on_event=events.append, save=lambda name, state: saved.append((name, state["epoch"], copy.deepcopy(state)))
    )
    return result, [e for e in events if e["type"] == "epoch"], saved


# --- reflect padding -------------------------------------------------------------------------


def test_reflect_translate_equals_reflect_padding_then_a_shifted_crop():
    images = torch.randint(0, 256, (5, 3, 8, 6), dtype=torch.uint8)
    shifts = torch.tensor([[2, -1], [-2, 2], [0, 0], [1, 1], [-1, -2]])
    padded = F.pad(images.float(), (2, 2, 2, 2), mode="reflect").to(torch.uint8)
    moved = translate(images, shifts, "reflect")
    for b, (dx, dy) in enumerate(shifts.tolist()):
        assert torch.equal(moved[b], padded[b, :, 2 - dy : 2 - dy + 8, 2 - dx : 2 - dx + 6])
    black = translate(images, shifts, "zeros")
    assert (black[0, :, :, :2] == 0).all() and (black[0, :, -1, :] == 0).all()  # 2 right, 1 up: black where uncovered
    assert torch.equal(moved[0, :, :, 0], images[0, :, :-1, 2].new_empty(0)) or torch.equal(moved[0, :, :-1, 0], images[0, :, 1:, 2])


def test_reflect_translate_through_the_pipeline_leaves_no_black_border():
    images = torch.full((64, 3, 32, 32), 200, dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    for padding, black in (("zeros", True), ("reflect", False)):
        op = OpConfig("translate", 1.0, {"translate": [0.0625, 0.0625], "padding": padding})
        out = AugmentPipeline(AugmentConfig([op]))(images, torch.zeros(64, dtype=torch.long), generator).images
        assert bool((out == 0).any()) is black


# --- alternating flip ------------------------------------------------------------------------


def test_alternating_flip_mirrors_each_image_on_every_other_epoch_and_half_of_them_each_epoch():
    indices = torch.arange(10_000)
    even, odd, next_even = (alternate_flip_mask(indices, epoch, seed=3) for epoch in (0, 1, 2))
    assert torch.equal(even, ~odd) and torch.equal(even, next_even)
    assert abs(even.float().mean().item() - 0.5) < 0.02
    assert (alternate_flip_mask(indices, 0, seed=4) == even).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_pipeline_alternating_flip_depends_on_the_image_index_and_epoch_not_on_p():
    images = torch.randint(0, 256, (40, 3, 4, 4), dtype=torch.uint8)
    labels = torch.zeros(40, dtype=torch.long)
    pipeline = AugmentPipeline(AugmentConfig([OpConfig("hflip", 0.0, {"alternate": True})]))
    indices = torch.arange(100, 140)
    out = {epoch: pipeline(images, labels, torch.Generator().manual_seed(7), indices=indices, epoch=epoch).images for epoch in (0, 1)}
    flipped = (out[0] != images).flatten(1).any(1)
    assert torch.equal(flipped, alternate_flip_mask(indices, 0, seed=7))
    assert torch.equal(out[0][flipped], images[flipped].flip(-1)) and torch.equal(out[1][~flipped], images[~flipped].flip(-1))
    # the same image gets the same decision whatever batch it lands in
    again = pipeline(images[10:20], labels[10:20], torch.Generator().manual_seed(7), indices=indices[10:20], epoch=0).images
    assert torch.equal(again, out[0][10:20])


def test_alternating_flip_mirrors_the_same_half_on_every_torchrun_rank(synthetic, monkeypatch):
    """Under torchrun each rank augments with a generator of its own (seed + rank * stride); the
    half mirrored in an epoch must still follow the run's seed, or an image that changes rank
    between epochs is mirrored twice in a row (the lever silently becomes a random flip)."""
    from cifar_core.train import engine
    from cifar_core.train.batches import augmented_batches
    from cifar_core.train.distributed import World, augment_generator

    images = torch.randint(0, 256, (40, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(40, dtype=torch.long)
    pipeline = AugmentPipeline(AugmentConfig([OpConfig("hflip", 0.0, {"alternate": True})]))
    order = torch.randperm(40, generator=torch.Generator().manual_seed(2))

    def epoch_images(generator, **kwargs):
        return torch.cat([out.images for out in augmented_batches(pipeline, images, labels, order, 8, generator, 3, **kwargs)])

    single = epoch_images(torch.Generator().manual_seed(5))
    ranks = [augment_generator(World(rank, 2), 5, torch.Generator().manual_seed(5)) for rank in (0, 1)]
    assert not torch.equal(epoch_images(ranks[1]), single)  # the rank's own seed would pick another half
    assert all(torch.equal(epoch_images(generator, flip_seed=5), single) for generator in ranks)

    seen = []
    real = engine.augmented_batches
    monkeypatch.setattr(engine, "augmented_batches", lambda *a, **k: seen.append(k["flip_seed"]) or real(*a, **k))
    train(fast_config(epochs=1, seed=3), synthetic)
    assert seen == [3]  # the engine hands every rank the run's seed


# --- Muon ------------------------------------------------------------------------------------


def test_orthogonalise_pushes_singular_values_towards_one_like_torch_muon():
    torch.manual_seed(0)
    matrix = torch.randn(16, 72) * torch.logspace(-2, 1, 72)  # badly conditioned, like a gradient
    singular = torch.linalg.svdvals(orthogonalise(matrix, steps=5).float())
    assert singular.min() > 0.3 and singular.max() < 1.3
    reference = getattr(getattr(torch.optim, "_muon", None), "_zeropower_via_newtonschulz", None)
    if reference is not None:  # torch's own Muon (2-D only) computes the same map
        ours, theirs = orthogonalise(matrix, steps=5).float(), reference(matrix, (3.4445, -4.7750, 2.0315), 5, 1e-7).float()
        assert (ours - theirs).norm() / theirs.norm() < 0.01  # the same products (identical on torch 2.14)
    assert orthogonalise(matrix.T, steps=5).shape == (72, 16)


def test_torch_muon_refuses_conv_filters_which_is_why_ours_exists():
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon")
    with pytest.raises(ValueError, match="2D"):
        torch.optim.Muon([torch.nn.Parameter(torch.randn(4, 3, 3, 3))])


def test_muon_step_fixes_the_filter_norm_and_moves_along_the_orthogonalised_momentum():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3) * 3)
    weight.grad = torch.randn_like(weight)
    before = weight.detach().clone()
    Muon([weight], lr=0.1, momentum=0.6).step()
    rescaled = before * (8**0.5 / before.norm())
    step = (rescaled - weight.detach()).reshape(8, -1)
    assert torch.linalg.svdvals(step / 0.1).max() < 1.3 and torch.linalg.svdvals(step / 0.1).min() > 0.3
    grad_direction = (weight.grad * 1.6).reshape(8, -1)  # nesterov: g + momentum * (momentum * 0 + g)
    assert torch.nn.functional.cosine_similarity(step.flatten(), grad_direction.flatten(), dim=0) > 0.5


def per_matrix_orthogonalise(matrix: torch.Tensor, steps: int = 3, eps: float = 1e-7) -> torch.Tensor:
    """Muon's orthogonalisation of one 2-D matrix at a time: the unbatched reference the batched form must match."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = matrix.bfloat16()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def per_parameter_muon_step(params, buffers, lr: float, momentum: float, nesterov: bool) -> None:
    """Muon's step with each filter alone, through the reference above: what the batched step must equal."""
    for p, buffer in zip(params, buffers, strict=True):
        buffer.mul_(momentum).add_(p.grad)
        grad = p.grad.add(buffer, alpha=momentum) if nesterov else buffer
        p.mul_(len(p) ** 0.5 / p.norm().clamp(min=1e-12))
        p.add_(per_matrix_orthogonalise(grad.reshape(len(grad), -1)).view(grad.shape).to(p.dtype), alpha=-lr)


@pytest.mark.parametrize("shape", [(8, 36), (36, 8), (16, 16), (3, 200), (1, 9)])  # wide, tall, square, very wide, one row
def test_orthogonalise_of_a_stack_equals_each_matrix_alone(shape):
    torch.manual_seed(0)
    stack = torch.randn(5, *shape) * torch.logspace(-2, 1, 5).view(5, 1, 1)  # scales far apart: each normalised alone
    batched = orthogonalise(stack).float()
    assert batched.shape == (5, *shape)
    for one, matrix in zip(batched, stack, strict=True):
        assert torch.allclose(one, per_matrix_orthogonalise(matrix).float())  # fp32 tolerance (identical on CPU)
    assert torch.allclose(orthogonalise(stack[0]).float(), per_matrix_orthogonalise(stack[0]).float())  # 2-D still works


def test_batched_muon_steps_like_the_per_parameter_form_with_one_stack_per_shape(monkeypatch):
    torch.manual_seed(0)
    shapes = [(8, 4, 3, 3), (16, 8, 3, 3), (8, 4, 3, 3), (32, 2, 1, 1), (8, 4, 3, 3), (16, 8, 3, 3)]  # [32, 2] is tall
    ours = [torch.nn.Parameter(torch.randn(shape) * 2) for shape in shapes]
    theirs = [p.detach().clone() for p in ours]
    groups = [{"params": ours[:5]}, {"params": ours[5:], "lr": 0.05, "nesterov": False}]  # per-group lr and momentum rule kept
    muon = Muon(groups, lr=0.1, momentum=0.6)
    seen = []
    monkeypatch.setattr(optim, "orthogonalise", lambda m: seen.append(tuple(m.shape)) or orthogonalise(m))
    buffers = [torch.zeros_like(p) for p in theirs]
    for _ in range(3):  # the momentum buffers carry over between steps
        grads = [torch.randn(shape) for shape in shapes]
        for p, q, g in zip(ours, theirs, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        muon.step()
        per_parameter_muon_step(theirs[:5], buffers[:5], lr=0.1, momentum=0.6, nesterov=True)
        per_parameter_muon_step(theirs[5:], buffers[5:], lr=0.05, momentum=0.6, nesterov=False)
    for p, q in zip(ours, theirs, strict=True):
        assert torch.allclose(p.detach(), q)
    assert seen[:4] == [(3, 8, 36), (16, 72), (32, 2), (16, 72)]  # first group: three 8x36 filters in one stack
    assert len(seen) == 12

    seen.clear()
    Muon([torch.nn.Parameter(torch.randn(8, 4, 3, 3)) for _ in range(3)], lr=0.1, batched=False).step()
    assert seen == []  # no gradients, no update
    lone = [torch.nn.Parameter(torch.randn(8, 4, 3, 3)) for _ in range(3)]
    for p in lone:
        p.grad = torch.randn_like(p)
    Muon(lone, lr=0.1, batched=False).step()
    assert seen == [(8, 36)] * 3  # the lever switched off: one filter at a time


def test_make_optimizer_batches_muon_unless_the_config_switches_it_off():
    config = fast_config(muon_lr=0.24, model_options={"widths": [8, 16, 16], "train_bn_scale": False})
    model = build_model("fast_cnn", dropout=0.0, options=config.model_options)
    assert make_optimizer(config, model).parts[1].batched
    assert not make_optimizer(config.replace(muon_batched=False), model).parts[1].batched
    with pytest.raises(ConfigError, match="muon_batched must be true or false"):
        config.replace(muon_batched="no")


def test_make_optimizer_sends_conv_filters_to_muon_and_the_rest_to_sgd_under_one_schedule():
    config = fast_config(muon_lr=0.24, bias_lr_scale=64.0, model_options={"widths": [8, 16, 16], "train_bn_scale": False})
    model = build_model("fast_cnn", dropout=0.0, options=config.model_options)
    optimizer = make_optimizer(config, model)
    sgd, muon = optimizer.parts
    filters = {id(p) for p in model.parameters() if p.ndim == 4 and p.requires_grad}
    assert {id(p) for g in muon.param_groups for p in g["params"]} == filters and len(filters) == 6
    assert not filters & {id(p) for g in sgd.param_groups for p in g["params"]}
    assert isinstance(sgd, torch.optim.SGD) and [g["lr"] for g in optimizer.param_groups] == [0.2, pytest.approx(12.8), 0.24]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** (step + 1))
    optimizer.step()  # no gradients yet: moves nothing
    scheduler.step()
    assert muon.param_groups[0]["lr"] == pytest.approx(0.24 / 4) and sgd.param_groups[0]["lr"] == pytest.approx(0.05)
    assert len(make_optimizer(config.replace(muon_lr=None), model).param_groups) == 2
    with pytest.raises(ConfigError, match="muon_lr must be between"):
        config.replace(muon_lr=-1.0)


def test_a_muon_run_learns_and_resumes_exactly(synthetic):
    config = fast_config(muon_lr=0.24, epochs=3, lookahead=True)
    result, epochs, saved = run(config, synthetic)
    assert result.status == "finished" and epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    first = next(state for name, epoch, state in saved if name == "last" and epoch == 1)
    resumed, resumed_epochs, _ = run_resumed(config, synthetic, first)
    assert [e["val_acc"] for e in resumed_epochs] == [e["val_acc"] for e in epochs[1:]]


def run_resumed(config, data, state):
    events = []
    result = train(config, data, on_event=events.append, resume=state)
    return result, [e for e in events if e["type"] == "epoch"], None


# --- whitening bias for the first epochs only ------------------------------------------------


def test_whitening_bias_trains_only_in_its_first_epochs(synthetic):
    config = fast_config(epochs=3, model_options={"widths": [8, 16, 16], "whiten_bias_epochs": 1})
    _, _, saved = run(config, synthetic)
    bias = {epoch: state["model"]["whiten.bias"].clone() for name, epoch, state in saved if name == "last"}
    assert bias[1].abs().sum() > 0  # trained in epoch 1 from its zero start...
    assert torch.equal(bias[1], bias[2]) and torch.equal(bias[2], bias[3])  # ...then frozen
    _, _, always = run(config.replace(model_options={"widths": [8, 16, 16]}), synthetic)
    free = {epoch: state["model"]["whiten.bias"] for name, epoch, state in always if name == "last"}
    assert not torch.equal(free[2], free[3])
    with pytest.raises(ConfigError, match="whiten_bias_epochs must be a whole number"):
        build_model("fast_cnn", dropout=0.0, options={"whiten_bias_epochs": 1.5})


# --- speed paths -----------------------------------------------------------------------------


def test_whole_epoch_augmentation_trains_and_is_reproducible(synthetic):
    config = fast_config(
        augment_per_epoch=True, epochs=3, augment_params={"hflip": {"alternate": True}, "translate": {"padding": "reflect"}}
    )
    first, epochs, _ = run(config, synthetic)
    second, again, _ = run(config, synthetic)
    assert [e["train_loss"] for e in epochs] == [e["train_loss"] for e in again]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] and first.best_val_acc > 0.2
    _, per_batch, _ = run(config.replace(augment_per_epoch=False), synthetic)
    assert [e["train_loss"] for e in per_batch] != [e["train_loss"] for e in epochs]  # other draws, same recipe


def test_validation_and_checkpoints_every_n_epochs_always_include_the_last(synthetic):
    _, epochs, saved = run(fast_config(epochs=5, val_every=2, checkpoint_every=3), synthetic)
    assert [e["val_acc"] is not None for e in epochs] == [False, True, False, True, True]
    assert sorted({epoch for name, epoch, _ in saved if name == "last"}) == [3, 5]
    assert len(epochs) == 5 and all(e["train_loss"] > 0 for e in epochs)


def test_new_speed_fields_are_validated():
    with pytest.raises(ConfigError, match="checkpoint_every must be between 1"):
        fast_config(checkpoint_every=0)
    with pytest.raises(ConfigError, match="compile must be true or false"):
        fast_config(compile="yes")


def test_the_gpu_preset_trains_on_the_cpu_at_tiny_size_checking_and_saving_only_at_the_end(synthetic):
    from cifar_core.train.presets import get_preset

    preset = get_preset("airbench_gpu")
    options = {**preset.values["model_options"], "widths": [8, 16, 16]}
    config = preset.config(data="synthetic", limit=400, epochs=4, batch_size=64, device="cpu", model_options=options)
    assert config.muon_lr and config.augment_per_epoch and config.augment_config().ops[0].params == {"alternate": True}
    result, epochs, saved = run(config, synthetic)
    assert result.status == "finished" and [e["val_acc"] is not None for e in epochs] == [False, False, False, True]
    assert {(name, epoch) for name, epoch, _ in saved} == {("last", 4), ("best", 4)}
    assert set(saved[0][2]["optimizer"]) == {"parts"}  # SGD and Muon states, both checkpointed


@pytest.mark.slow
def test_a_compiled_model_trains_to_the_same_kind_of_result(synthetic):
    _, plain, _ = run(fast_config(epochs=1), synthetic)
    _, compiled, saved = run(fast_config(epochs=1, compile=True), synthetic)
    assert abs(compiled[0]["train_loss"] - plain[0]["train_loss"]) < 0.05
    assert not any(key.startswith("_orig_mod") for key in saved[0][2]["model"])  # checkpoints load into a plain model
