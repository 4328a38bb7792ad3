"""The Augmentation lab's logic, free of Streamlit: settings, previews and words for what happened.

The lab's settings are exactly the augmentation fields of ``TrainConfig`` (``aug_p``, ``mix_p``,
``augment_ops``, ``augment_params``) and the preview builds its pipeline the way training does
(``TrainConfig.augment_config``), so what a learner sees in the lab is what a run trains with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cifar_core.augment import MIX_OPS, OP_NAMES, AugmentConfig, AugmentPipeline, AugmentResult, OpConfig
from cifar_core.augment.box import Box
from cifar_core.device import single_thread
from cifar_core.train import TrainConfig

OP_TITLES: dict[str, str] = {
    "rotation": "Rotation",
    "resized_crop": "Random resized crop",
    "translate": "Translation",
    "hflip": "Horizontal flip",
    "cutout": "Cutout",
    "cutmix": "CutMix",
    "mixup": "MixUp",
}


def default_params(op: str) -> dict[str, Any]:
    """An op's parameters with their defaults filled in (tuples, as the config resolves them)."""
    return OpConfig(op, 0.0).resolved()


@dataclass
class LabSettings:
    """The augmentation part of a training config, as the lab's controls set it."""

    aug_p: float = TrainConfig.aug_p
    mix_p: float = TrainConfig.mix_p
    ops: list[str] = field(default_factory=lambda: list(TrainConfig().augment_ops))
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def train_fields(self) -> dict[str, Any]:
        """The ``TrainConfig`` fields these settings fill; parameters equal to their default are left out."""
        params = {}
        for op in self.ops:
            changed = _changed_params(op, self.params.get(op, {}))
            if changed:
                params[op] = changed
        return {"aug_p": self.aug_p, "mix_p": self.mix_p, "augment_ops": list(self.ops), "augment_params": params}

    def augment_config(self) -> AugmentConfig:
        """The pipeline config a run with these settings trains with (validated; ``ConfigError`` if not)."""
        return TrainConfig(**self.train_fields()).augment_config()


def _changed_params(op: str, params: Mapping[str, Any]) -> dict[str, Any]:
    defaults = default_params(op)
    resolved = OpConfig(op, 0.0, dict(params)).resolved()
    return {key: _plain(params[key]) for key in params if resolved[key] != defaults[key]}


def _plain(value: Any) -> Any:
    return [_plain(item) for item in value] if isinstance(value, (list, tuple)) else value


def pick_samples(labels: torch.Tensor, count: int, seed: int, label: int | None = None) -> torch.Tensor:
    """``count`` random indices (of one class when ``label`` is given), the same for the same seed."""
    pool = torch.arange(len(labels)) if label is None else (labels == label).nonzero().flatten()
    generator = torch.Generator().manual_seed(seed)
    return pool[torch.randperm(len(pool), generator=generator)[:count]]


def preview(images: torch.Tensor, labels: torch.Tensor, settings: LabSettings, seed: int) -> AugmentResult:
    """Augment a batch as a training step would, recording what each image got."""
    pipeline = AugmentPipeline(settings.augment_config())
    with single_thread():
        return pipeline(images, labels, torch.Generator().manual_seed(seed), record=True)


def cutmix_pair(image_a: torch.Tensor, label_a: int, image_b: torch.Tensor, label_b: int, alpha: float, seed: int) -> AugmentResult:
    """Image A with a CutMix box of image B pasted in (always applied), and its record."""
    pipeline = AugmentPipeline(AugmentConfig([OpConfig("cutmix", 1.0, {"alpha": alpha})]))
    pool = (image_b.unsqueeze(0), torch.tensor([label_b]))
    with single_thread():
        return pipeline(image_a.unsqueeze(0), torch.tensor([label_a]), torch.Generator().manual_seed(seed), record=True, pool=pool)


def describe_op(entry: Mapping[str, Any]) -> str:
    """One applied op from a pipeline record, in words."""
    op = entry["op"]
    if op == "rotation":
        return f"rotated {round(entry['angle'])}°"  # round(), not :.0f, which prints -0 for -0.3
    if op == "resized_crop":
        box = Box.of(entry["box"])
        return f"cropped {box.width}×{box.height} px at ({box.left}, {box.top}) and resized"
    if op == "translate":
        dx, dy = entry["shift"]
        parts = [f"{abs(dx)} px {'right' if dx > 0 else 'left'}" if dx else "", f"{abs(dy)} px {'down' if dy > 0 else 'up'}" if dy else ""]
        return "shifted " + (", ".join(part for part in parts if part) or "0 px")
    if op == "hflip":
        return "mirrored"
    if op == "cutout":
        box = Box.of(entry["box"])
        return f"blacked out {box.width}×{box.height} px"
    if op in MIX_OPS:
        verb = "pasted" if op == "cutmix" else "blended in"
        return f"{OP_TITLES[op]}: {_share(entry['weight'])} {verb} from image #{entry['partner'] + 1}"
    return op


def describe_augmentations(config: TrainConfig) -> list[str]:
    """The run's augmentations as short phrases, e.g. "Horizontal flip, on 50% of images"."""
    phrases = []
    for op in config.augment_config().ops:
        params = op.resolved()
        if op.name == "rotation":
            detail = (
                f"by {params['degrees'][0]:g}° to {params['degrees'][1]:g}°"
                if params.get("degrees")
                else "by " + _or_list([f"{angle:g}°" for angle in params["angles"]])
            )
        elif op.name == "resized_crop":
            detail = f"keeping {params['scale'][0]:.0%}–{params['scale'][1]:.0%} of the area"
        elif op.name == "translate":
            tx, ty = params["translate"]
            detail = (
                f"by up to {tx:.0%} ({round(tx * 32)} px) each way" if tx == ty else f"by up to {tx:.0%} sideways and {ty:.0%} up or down"
            )
        elif op.name == "cutout":
            detail = f"of a {params['size']}-px square"
        elif op.name in MIX_OPS:
            detail = f"(α {params['alpha']:g})"
        else:
            detail = ""
        phrases.append(f"{OP_TITLES[op.name]} {detail}".strip() + f", on {op.p:.0%} of images")
    return phrases


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def describe_record(record: Mapping[str, Any]) -> str:
    """Everything applied to one image, or that it passed through unchanged."""
    return "; ".join(describe_op(entry) for entry in record["ops"]) or "unchanged"


def label_weights(record: Mapping[str, Any], classes: Sequence[str]) -> dict[str, float]:
    """The image's soft label as class name -> weight (one class at 100% unless it was mixed)."""
    return {classes[int(index)]: float(weight) for index, weight in record["label_weights"].items()}


__all__ = [
    "OP_NAMES",
    "OP_TITLES",
    "LabSettings",
    "cutmix_pair",
    "default_params",
    "describe_augmentations",
    "describe_op",
    "describe_record",
    "label_weights",
    "pick_samples",
    "preview",
]


def _share(weight: float) -> str:
    """A pasted share in words: whole percent, but a small patch (a 2x2 box is 0.4%) is never called 0%."""
    return f"{weight:.0%}" if weight >= 0.01 or weight == 0 else f"{weight:.1%}"
