"""Every augmentation op is one spec in the registry, and every consumer sees every registered op."""

from __future__ import annotations

import torch

from cifar_core.app.lab import OP_TITLES, describe_augmentations, describe_op
from cifar_core.augment import MIX_OPS, OP_NAMES, STANDARD_OPS, AugmentConfig, AugmentPipeline, OpConfig
from cifar_core.augment import ops as registry
from cifar_core.augment.preview import _tag
from cifar_core.augment.spec import OpSpec, Param, flag
from cifar_core.cli import main
from cifar_core.cli.augment_cmd import build_config
from cifar_core.train import TrainConfig


def _images(count: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(1, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator), torch.arange(count) % 10


def test_every_registered_op_is_in_the_schema_the_cli_the_lab_and_the_captions(capsys) -> None:
    assert set(OP_NAMES) == set(registry.REGISTRY) and set(MIX_OPS) == set(registry.names("mix"))
    try:
        main(["augment", "--help"])
    except SystemExit:
        pass
    help_text = " ".join(capsys.readouterr().out.split())
    images, labels = _images()
    for name, spec in registry.REGISTRY.items():
        assert set(OpConfig(name, 1.0).resolved()) == set(spec.params)  # the config schema
        assert name in help_text and [op.name for op in build_config(name, 1.0, None).ops] == [name]  # the CLI
        assert OP_TITLES[name] == spec.title  # the lab's menus and toggles
        assert describe_augmentations(TrainConfig(augment_ops=[name], aug_p=1.0, mix_p=1.0))[0].startswith(spec.title)
        result = AugmentPipeline(AugmentConfig([OpConfig(name, 1.0)]))(images, labels, torch.Generator().manual_seed(1), record=True)
        entries = [op for record in result.records for op in record["ops"]]
        assert len(entries) == len(images) and all(entry["op"] == name for entry in entries)
        assert describe_op(entries[0]) == spec.caption(entries[0]) != name  # a caption in words
        assert _tag(entries[0]) == spec.tag(entries[0])


class VerticalFlip(OpSpec):
    """What a new op's file holds: this class and ``SPEC = VerticalFlip()`` in ``augment/ops/vflip.py``."""

    name = "vflip_test"
    title = "Vertical flip"
    order = 45
    params = {"upside_down": Param(True, flag)}

    def apply(self, images, params, generator):
        return images.flip(-2), lambda: [{"op": self.name} for _ in range(len(images))]

    def caption(self, entry):
        return "upside down"


def test_an_op_added_by_one_spec_reaches_config_pipeline_and_captions() -> None:
    spec = registry.register(VerticalFlip())
    try:
        assert list(registry.REGISTRY).index("vflip_test") == list(registry.REGISTRY).index("hflip") + 1  # placed by order
        config = AugmentConfig.from_dict({"ops": [{"name": "vflip_test", "p": 1.0}]})
        images, labels = _images()
        result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(0), record=True)
        assert torch.equal(result.images, images.flip(-2))
        assert describe_op(result.records[0]["ops"][0]) == "upside down"
        assert spec.kind == "standard" and "vflip_test" not in STANDARD_OPS  # the constants were fixed at import
    finally:
        registry.REGISTRY.pop("vflip_test")


def test_a_cutmix_patch_shows_the_partners_pixels_never_its_fill_and_weighs_what_shows() -> None:
    """Shifted and rotated images mix with un-augmented partners: no black border pasted under the partner's label."""
    images, labels = _images(16)
    config = AugmentConfig.from_dict(
        {
            "ops": [
                {"name": "translate", "p": 1.0, "params": {"translate": [0.4, 0.4]}},
                {"name": "rotation", "p": 1.0, "params": {"degrees": [-40, 40]}},
                {"name": "cutmix", "p": 1.0, "params": {"alpha": 1.0}},
            ]
        }
    )
    result = AugmentPipeline(config)(images, labels, torch.Generator().manual_seed(3), record=True)
    for i, record in enumerate(result.records):
        cut = record["ops"][-1]
        box, partner = cut["box"], cut["partner"]
        pasted = result.images[i, :, box.top : box.bottom, box.left : box.right]
        assert torch.equal(pasted, images[partner, :, box.top : box.bottom, box.left : box.right])
        assert bool((pasted > 0).all())  # the test images have no black pixel: none of the partner's fill
        assert cut["weight"] == box.area / (32 * 32)
        assert record["label_weights"][int(labels[partner])] == round(cut["weight"], 6) or labels[partner] == labels[i]
