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

from cifar_core.augment import OP_NAMES, AugmentConfig, AugmentPipeline, AugmentResult, OpConfig
from cifar_core.augment.ops import REGISTRY
from cifar_core.device import single_thread
from cifar_core.train import TrainConfig

OP_TITLES: dict[str, str] = {name: spec.title for name, spec in REGISTRY.items()}


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

    @classmethod
    def of(cls, config: TrainConfig) -> LabSettings:
        """The augmentation a run of ``config`` trains with, as lab settings."""
        params = {op: dict(values) for op, values in config.augment_params.items()}
        return cls(aug_p=config.aug_p, mix_p=config.mix_p, ops=list(config.augment_ops), params=params)

    def with_widgets(self, op: str, widget_params: Mapping[str, Any]) -> dict[str, Any]:
        """Op ``op``'s parameters once its widgets set theirs: the ones no widget owns (a per-op ``p``, padding) ride along."""
        owned = REGISTRY[op].widget_params
        return {**{key: value for key, value in self.params.get(op, {}).items() if key not in owned}, **widget_params}

    def widget_values(self, op: str) -> dict[str, Any]:
        """``{suffix: value}`` that puts op ``op``'s widgets at these settings."""
        given = {key: value for key, value in self.params.get(op, {}).items() if key != "p"}
        return REGISTRY[op].widget_values(OpConfig(op, 0.0, given).resolved())


def _changed_params(op: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that differ from their default; an op's own probability ``p`` always stays."""
    defaults = default_params(op)
    resolved = OpConfig(op, 0.0, {key: value for key, value in params.items() if key != "p"}).resolved()
    changed = {key: _plain(params[key]) for key in params if key != "p" and resolved[key] != defaults[key]}
    return {**changed, "p": params["p"]} if "p" in params else changed


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
    spec = REGISTRY.get(entry["op"])
    return entry["op"] if spec is None else spec.caption(entry)


def describe_augmentations(config: TrainConfig) -> list[str]:
    """The run's augmentations as short phrases, e.g. "Horizontal flip, on 50% of images"."""
    phrases = []
    for op in config.augment_config().ops:
        spec = REGISTRY[op.name]
        phrases.append(f"{spec.title} {spec.summary(op.resolved())}".strip() + f", on {op.p:.0%} of images")
    return phrases


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
