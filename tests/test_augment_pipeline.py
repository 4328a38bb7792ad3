"""The pipeline applies each op per image with its probability, reproducibly, and says what it did."""

from __future__ import annotations

import json
import math

import pytest
import torch

from cifar_core.augment import OP_NAMES, AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.augment import functional as F
from cifar_core.augment.mix import one_hot

ALL_OPS = AugmentConfig([OpConfig(name, 1.0) for name in OP_NAMES])


def _batch(count: int = 64, seed: int = 0, dtype: torch.dtype = torch.uint8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (count,), generator=generator)
    return (images if dtype == torch.uint8 else images.to(dtype) / 255), labels


def _with_p(config: AugmentConfig, p: float) -> AugmentConfig:
    return AugmentConfig([OpConfig(op.name, p, dict(op.params)) for op in config.ops])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_p_zero_is_bit_exact_identity_with_one_hot_labels(dtype: torch.dtype) -> None:
    images, labels = _batch(dtype=dtype)
    result = AugmentPipeline(_with_p(ALL_OPS, 0.0))(images, labels, torch.Generator().manual_seed(0), record=True)
    assert torch.equal(result.images, images)
    assert torch.equal(result.soft_labels, one_hot(labels, 10))
    assert all(record["ops"] == [] for record in result.records)


def test_p_one_applies_every_op_to_every_image_with_mix_ops_last() -> None:
    config = AugmentConfig([OpConfig("cutmix", 1.0), *[OpConfig(name, 1.0) for name in OP_NAMES if name != "cutmix"]])
    images, labels = _batch()
    result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(0), record=True)
    expected_order = ["rotation", "resized_crop", "translate", "hflip", "cutout", "cutmix", "mixup"]
    assert all([op["op"] for op in record["ops"]] == expected_order for record in result.records)


@pytest.mark.parametrize("p", [0.06, 0.5])
def test_applied_fraction_matches_p_within_binomial_tolerance(p: float) -> None:
    images, labels = _batch(2000)
    config = _with_p(AugmentConfig.study(1.0, 1.0, ops=("rotation", "translate", "cutmix")), p)
    result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(1), record=True)
    for name in ("rotation", "translate", "cutmix"):
        hits = sum(any(op["op"] == name for op in record["ops"]) for record in result.records)
        assert abs(hits - 2000 * p) <= 5 * math.sqrt(2000 * p * (1 - p)), name


def test_unapplied_images_stay_bit_exact() -> None:
    images, labels = _batch(300)
    pipeline = AugmentPipeline(AugmentConfig.study(0.2, 0.2))
    result = pipeline(images, labels, torch.Generator().manual_seed(2), record=True)
    untouched = [i for i, record in enumerate(result.records) if not record["ops"]]
    assert len(untouched) > 50
    assert torch.equal(result.images[untouched], images[untouched])


def test_same_seed_gives_same_images_and_different_seeds_differ() -> None:
    images, labels = _batch()
    pipeline = AugmentPipeline(AugmentConfig.study(0.5, 0.5))

    def run(seed: int):
        return pipeline(images, labels, torch.Generator().manual_seed(seed), record=True)

    first, again, other = run(3), run(3), run(4)
    assert torch.equal(first.images, again.images) and torch.equal(first.soft_labels, again.soft_labels)
    assert first.records == again.records
    assert not torch.equal(first.images, other.images)


def test_inputs_are_not_modified() -> None:
    images, labels = _batch()
    before = images.clone()
    AugmentPipeline(ALL_OPS)(images, labels, torch.Generator().manual_seed(0))
    assert torch.equal(images, before)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_output_keeps_shape_dtype_and_gives_float32_soft_labels(dtype: torch.dtype) -> None:
    images, labels = _batch(16, dtype=dtype)
    result = AugmentPipeline(ALL_OPS, num_classes=12)(images, labels, torch.Generator().manual_seed(0))
    assert result.images.shape == images.shape and result.images.dtype == dtype
    assert result.soft_labels.shape == (16, 12) and result.soft_labels.dtype == torch.float32
    assert result.records is None


def test_records_replay_to_the_same_images() -> None:
    """Applying the recorded parameters with the functional ops reproduces the pipeline's output."""
    images, labels = _batch(32)
    config = AugmentConfig.study(0.7, 0.7, ops=("rotation", "resized_crop", "translate", "hflip", "cutout", "cutmix"))
    result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(5), record=True)
    before_mix = images.clone()
    for i, record in enumerate(result.records):
        image = images[i : i + 1]
        for op in record["ops"]:
            if op["op"] == "rotation":
                image = F.rotate(image, torch.tensor([float(op["angle"])]))
            elif op["op"] == "resized_crop":
                box = op["box"]
                image = F.resized_crop(image, torch.tensor([[box.top, box.left, box.height, box.width]]), 32)
            elif op["op"] == "translate":
                image = F.translate(image, torch.tensor([op["shift"]]))
            elif op["op"] == "hflip":
                image = F.hflip(image)
            elif op["op"] == "cutout":
                image = F.cutout(image, torch.tensor([op["box"]]))
        before_mix[i] = image[0]
    replayed = before_mix.clone()  # partners are the un-augmented batch (no fill pasted in)
    for i, record in enumerate(result.records):
        cut = [op for op in record["ops"] if op["op"] == "cutmix"]
        if cut:
            partner = images[cut[0]["partner"]].unsqueeze(0)
            replayed[i] = F.paste_boxes(before_mix[i : i + 1], partner, torch.tensor([cut[0]["box"]]))[0]
    assert torch.equal(replayed, result.images)


def test_records_are_json_friendly_and_label_weights_sum_to_one() -> None:
    images, labels = _batch(32)
    result = AugmentPipeline(ALL_OPS)(images, labels, torch.Generator().manual_seed(0), record=True)
    assert json.loads(json.dumps(result.records)) is not None
    for i, record in enumerate(result.records):
        assert record["index"] == i
        assert abs(sum(record["label_weights"].values()) - 1.0) < 1e-5
        assert list(record["label_weights"].values()) == sorted(record["label_weights"].values(), reverse=True)


def test_arbitrary_angle_rotation_draws_from_the_degree_range() -> None:
    images, labels = _batch(200)
    config = AugmentConfig([OpConfig("rotation", 1.0, {"degrees": [-15, 15]})])
    result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(0), record=True)
    angles = [record["ops"][0]["angle"] for record in result.records]
    assert all(-15 <= angle <= 15 for angle in angles) and len(set(angles)) > 150


def test_bad_batches_and_pools_are_refused() -> None:
    images, labels = _batch(8)
    pipeline = AugmentPipeline(AugmentConfig.study(1.0, 1.0))
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="labels"):
        pipeline(images, labels[:4], generator)
    with pytest.raises(ValueError, match="images"):
        pipeline(images[0], labels, generator)
    with pytest.raises(ValueError, match="pool"):
        pipeline(images, labels, generator, pool=(images.float(), labels))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batch_with_cpu_generator_matches_cpu() -> None:
    images, labels = _batch(128)
    ops = ("rotation", "resized_crop", "translate", "cutout", "cutmix")
    pipeline = AugmentPipeline(AugmentConfig.study(0.5, 0.5, ops=ops))
    cpu = pipeline(images, labels, torch.Generator().manual_seed(0), record=True)
    cuda = pipeline(images.cuda(), labels.cuda(), torch.Generator().manual_seed(0), record=True)
    assert cuda.images.is_cuda and cuda.soft_labels.is_cuda
    assert cuda.records == cpu.records
    assert (cuda.images.cpu().int() - cpu.images.int()).abs().max() <= 1
    torch.testing.assert_close(cuda.soft_labels.cpu(), cpu.soft_labels)
