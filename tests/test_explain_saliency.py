"""Saliency maps pass the sanity checks of Adebayo et al. (2018) on a model trained here, and every
registered model has a layer to explain."""

from __future__ import annotations

import pytest
import torch
from explain_support import trained_explain_run
from scipy.stats import spearmanr

from cifar_core.data import load_synthetic
from cifar_core.errors import ConfigError
from cifar_core.evaluate import load_run_model, split_images
from cifar_core.explain.saliency import METHODS, gradcam, occlusion, overlay, saliency, saliency_grid
from cifar_core.models import MODEL_REGISTRY, build_model
from cifar_core.models.registry import ModelSpec

SHIFT = 4
OBJECT_CLASSES = (0, 1, 2, 5, 8, 9)  # synthetic shapes with a position (disc, square, ring, plus, triangle, hollow square)


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    loaded = load_run_model(trained_explain_run(tmp_path_factory))
    images, labels, _ = split_images(loaded.config, load_synthetic(), "val")
    return loaded, images[:48], labels[:48]


def maps_of(method: str, model, images, targets):
    return gradcam(model, "simple_cnn", images, targets) if method == "gradcam" else occlusion(model, images, targets)


def shift_down_right(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Move the picture ``pixels`` down and right; the uncovered edge repeats the border."""
    padded = torch.nn.functional.pad(images.float(), (pixels, 0, pixels, 0), mode="replicate")
    return padded[..., : images.shape[-2], : images.shape[-1]].to(images.dtype)


def centre_of_mass(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weights = maps / maps.sum(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    rows, columns = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    return (weights * rows).sum(dim=(1, 2)), (weights * columns).sum(dim=(1, 2))


@pytest.mark.parametrize("method", METHODS)
def test_maps_are_32x32_in_unit_range_and_differ_by_class(explained, method):
    loaded, images, labels = explained
    maps = maps_of(method, loaded.model, images[:8], labels[:8])
    other = maps_of(method, loaded.model, images[:8], (labels[:8] + 5) % 10)
    assert maps.shape == (8, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    assert torch.allclose(maps.flatten(1).max(dim=1).values, torch.ones(8))
    assert not torch.allclose(maps, other, atol=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_maps_of_the_trained_model_differ_from_a_reinitialised_one(explained, method):
    """Adebayo et al.'s model randomisation test: a map that survives random weights explains nothing."""
    loaded, images, labels = explained
    torch.manual_seed(1)
    random_model = build_model("simple_cnn", dropout=loaded.config.dropout).eval()
    trained, random = maps_of(method, loaded.model, images, labels), maps_of(method, random_model, images, labels)
    correlations = torch.tensor([spearmanr(a.flatten(), b.flatten()).statistic for a, b in zip(trained, random)]).nan_to_num(0.0)
    assert correlations.mean() < 0.5, correlations


@pytest.mark.parametrize("method", METHODS)
def test_shifting_an_image_shifts_its_map(explained, method):
    loaded, images, labels = explained
    objects = torch.isin(labels, torch.tensor(OBJECT_CLASSES))
    images, labels = images[objects], labels[objects]
    before = centre_of_mass(maps_of(method, loaded.model, images, labels))
    after = centre_of_mass(maps_of(method, loaded.model, shift_down_right(images, SHIFT), labels))
    for axis in range(2):
        moved = after[axis] - before[axis]  # per image, in pixels
        # the right way, beyond the noise over these images (a paired t of 3), and not further than the picture went
        assert moved.mean() > 3 * moved.std() / len(moved) ** 0.5 and moved.mean() <= SHIFT * 1.5, (axis, moved.mean(), moved.std())
        if method == "occlusion":  # pixel-level: it follows most of the shift. Grad-CAM's 8x8 layer sees the whole
            # image, so its centre moves by a machine-dependent fraction (0.9 px of 4 on CI's CPU, more here)
            assert moved.mean() >= SHIFT / 3, (axis, moved.mean())


def test_saliency_gives_one_map_when_prediction_and_truth_agree_and_a_grid_row_per_image(explained):
    loaded, images, labels = explained
    maps = saliency(loaded.model, "simple_cnn", images[:3], labels[:3], labels[:3])
    assert torch.equal(maps.predicted, maps.true)
    grid = saliency_grid(images[:3], maps, scale=4, gap=2)
    assert grid.size == (3 * 128 + 2 * 2, 3 * 128 + 2 * 2)
    assert overlay(images[0], maps.predicted[0], scale=8).size == (256, 256)


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_registered_model_has_a_gradcam_layer_that_gives_a_map(name):
    options = {"pretrained": False} if name == "mobilenet_v3_large" else {}
    if name == "mobilenet_v3_large":
        options["resolution"] = 64  # the layer is the same at any resolution; 224 is slow on a CPU
    model = build_model(name, dropout=0.0, options=options).eval()
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    maps = gradcam(model, name, images, torch.tensor([0, 1]))
    assert maps.shape == (2, 32, 32)


def test_a_model_without_a_registered_layer_is_refused_in_one_sentence(monkeypatch):
    spec = MODEL_REGISTRY["simple_cnn"]
    monkeypatch.setitem(MODEL_REGISTRY, "plain_cnn", ModelSpec("plain_cnn", spec.build, "no explain layers"))
    model = build_model("plain_cnn", dropout=0.0)
    with pytest.raises(
        ConfigError,
        match=r"^Model 'plain_cnn' has no registered layer to explain, so saliency and embedding maps are not available for it\.$",
    ):
        saliency(model, "plain_cnn", torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.tensor([0]), None, "occlusion")
