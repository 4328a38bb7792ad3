"""CutMix and MixUp mix pixels and labels per image, weighted by what was actually mixed."""

from __future__ import annotations

import torch

from cifar_core.augment import AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.augment.mix import mix_labels, one_hot


def _constant_images(count: int, offset: int = 0) -> torch.Tensor:
    """Image ``i`` is filled with the value ``offset + i``, so every pixel names its source."""
    return (torch.arange(count, dtype=torch.uint8) + offset).view(-1, 1, 1, 1).expand(count, 3, 32, 32).clone()


def _pipeline(name: str, p: float = 1.0, num_classes: int = 64, **params: float) -> AugmentPipeline:
    return AugmentPipeline(AugmentConfig([OpConfig(name, p, dict(params))]), num_classes=num_classes)


def _op(record: dict, name: str) -> dict:
    return next(op for op in record["ops"] if op["op"] == name)


def test_cutmix_label_weight_equals_pasted_area() -> None:
    count = 64
    images, labels = _constant_images(count), torch.arange(count)
    clipped = 0
    for seed in range(3):
        result = _pipeline("cutmix")(images, labels, torch.Generator().manual_seed(seed), record=True)
        for i, record in enumerate(result.records):
            cut = _op(record, "cutmix")
            y0, x0, y1, x1 = cut["box"]
            partner, weight = cut["partner"], cut["weight"]
            assert weight == (y1 - y0) * (x1 - x0) / 1024
            if partner != i:
                assert int((result.images[i] == partner).all(dim=0).sum()) == round(weight * 1024)
                assert (result.images[i, :, y0:y1, x0:x1] == partner).all()
            own, theirs = one_hot(labels[i : i + 1], count), one_hot(torch.tensor([partner]), count)
            torch.testing.assert_close(result.soft_labels[i : i + 1], (1 - weight) * own + weight * theirs)
            side = max(y1 - y0, x1 - x0)
            clipped += (y1 - y0) * (x1 - x0) < side * side
    assert clipped > 0  # clipped boxes were covered and weighed by their clipped area


def test_cutmix_takes_partners_from_a_pool_when_given() -> None:
    images, labels = _constant_images(16), torch.arange(16)
    pool = (_constant_images(40, offset=100), torch.arange(40) + 20)
    result = _pipeline("cutmix")(images, labels, torch.Generator().manual_seed(0), record=True, pool=pool)
    for i, record in enumerate(result.records):
        cut = _op(record, "cutmix")
        assert cut["source"] == "pool"
        assert int((result.images[i] == 100 + cut["partner"]).all(dim=0).sum()) == round(cut["weight"] * 1024)
        if cut["weight"] > 0:
            assert record["label_weights"][20 + cut["partner"]] == round(cut["weight"], 6)


def test_mixup_label_weight_equals_the_blend_factor() -> None:
    count = 32
    images = (torch.arange(count, dtype=torch.float32) * 10).view(-1, 1, 1, 1).expand(count, 3, 8, 8).clone()
    labels = torch.arange(count)
    result = _pipeline("mixup", alpha=0.4)(images, labels, torch.Generator().manual_seed(0), record=True)
    for i, record in enumerate(result.records):
        mix = _op(record, "mixup")
        partner, weight = mix["partner"], mix["weight"]
        expected_pixel = (1 - weight) * 10 * i + weight * 10 * partner
        torch.testing.assert_close(result.images[i], torch.full((3, 8, 8), expected_pixel), atol=1e-4, rtol=0)
        if partner != i:
            assert abs(result.soft_labels[i, partner].item() - weight) < 1e-6
            assert abs(result.soft_labels[i, i].item() - (1 - weight)) < 1e-6


def test_soft_labels_sum_to_one_after_both_mix_ops() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (256,), generator=generator)
    config = AugmentConfig([OpConfig("mixup", 0.5), OpConfig("cutmix", 0.5)])
    result = AugmentPipeline(config)(images, labels, generator)
    assert result.soft_labels.dtype == torch.float32 and result.soft_labels.shape == (256, 10)
    torch.testing.assert_close(result.soft_labels.sum(dim=1), torch.ones(256))
    assert (result.soft_labels >= 0).all()


def test_images_that_are_not_mixed_keep_one_hot_labels_and_pixels() -> None:
    images, labels = _constant_images(200), torch.arange(200) % 10
    result = _pipeline("cutmix", p=0.3, num_classes=10)(images, labels, torch.Generator().manual_seed(1), record=True)
    unmixed = [i for i, record in enumerate(result.records) if not record["ops"]]
    assert 100 < len(unmixed) < 180
    assert torch.equal(result.soft_labels[unmixed], one_hot(labels[unmixed], 10))
    assert torch.equal(result.images[unmixed], images[unmixed])


def test_mix_labels_interpolates_rows() -> None:
    own, partner = one_hot(torch.tensor([0, 1]), 3), one_hot(torch.tensor([2, 2]), 3)
    mixed = mix_labels(own, partner, torch.tensor([0.25, 1.0], dtype=torch.float64))
    assert mixed.tolist() == [[0.75, 0.0, 0.25], [0.0, 0.0, 1.0]]
