"""Named studies: the study's questions, each in a setting where the answer can show.

Regularisation can only help a model that over-fits. The published ablation before these (simple
CNN, 4,000 images, 8 epochs) ended at 53% training accuracy: an under-fitting model, for which
every regulariser must cost accuracy. Here the un-augmented model memorises its training images
(measured: see docs/studies/README.md) and still trains on a 2-core CPU in well under a minute
per run at full speed:

- ``ablation`` and ``aug_mix_grid``: the small SGD recipe (``fast_cnn`` 32/64/128: whitened first layer, BN-GELU conv
  groups, Nesterov SGD, one-cycle schedule) on a fixed, class-balanced 5,000-image subset
  (4,000 train / 1,000 validation) for 15 epochs, with the study's four augmentations at their
  library defaults in place of the recipe's flip and shifts.
- ``dropout``: the study's own simple CNN (dropout after every convolution) with Adam 1e-3,
  batch 256, on the same subset for 20 epochs and without augmentation, so dropout is the only
  regulariser that changes.

Every study pins the split (``split_seed`` 0), so all variants and seeds validate on the same
images, and repeats over three seeds, the fewest for which a paired t-interval is informative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cifar_core.errors import ConfigError
from cifar_core.study.definition import Study, new_study_id, plan_study, seeds_from
from cifar_core.study.estimate import Estimate, Throughput, estimate_study
from cifar_core.study.variants import Variant
from cifar_core.train import TrainConfig
from cifar_core.train.config import STUDY_OPS
from cifar_core.train.presets import SMALL_SGD_RECIPE, STUDY_CNN_RECIPE

# Each named study's base is a recipe (train/presets.py) on the pinned subset, with only what the
# question changes restated here.
SUBSET = {"limit": 5000, "val_fraction": 0.2, "seed": 0, "split_seed": 0}
SMALL_SGD_SUBSET: dict[str, Any] = {**SMALL_SGD_RECIPE, **SUBSET, "augment_ops": list(STUDY_OPS), "augment_params": {}, "epochs": 15}
STUDY_CNN_SUBSET: dict[str, Any] = {**STUDY_CNN_RECIPE, **SUBSET, "augment_ops": [], "augment_params": {}, "epochs": 20}
DEFAULT_SEEDS = 3
# The lesson: 2,000 train / 500 validation images, where the fast CNN without augmentation
# memorises its training set within a dozen epochs, small enough that three variants over three
# seeds finish in about five minutes on a 2-core CPU (measured: docs/lesson.md).
LESSON_SUBSET: dict[str, Any] = {
    **SMALL_SGD_RECIPE,
    "limit": 2500,
    "val_fraction": 0.2,
    "seed": 0,
    "split_seed": 0,
    "epochs": 12,
    "aug_p": 0.5,
    "mix_p": 0.0,
    "augment_ops": [],
    "augment_params": {},
}
# Rotation by multiples of 90 degrees is the lesson's effect (scored on rotated validation images);
# flip and 2-pixel shifts are the recipe's own augmentation, the one a model usually trains with.
LESSON_VARIANTS = (
    Variant("none", {"augment_ops": [], "augment_params": {}}),
    Variant("rotation", {"augment_ops": ["rotation"], "augment_params": {}}),
    Variant("flip+shift", {"augment_ops": ["hflip", "translate"], "augment_params": {"translate": {"translate": [0.0625, 0.0625]}}}),
)
# What a full 50,000-image train split holds; the named studies' limits are far below it.
FULL_TRAIN_SET = 50_000


@dataclass(frozen=True)
class NamedStudy:
    """A study ready to run: base config values, what varies, its seeds and its reference arm."""

    name: str
    description: str
    base: dict[str, Any]
    reference: str
    ablate: tuple[str, ...] | None = None
    grid: str | None = None
    seeds: int = DEFAULT_SEEDS
    tags: tuple[str, ...] = field(default_factory=tuple)
    variants: tuple[Variant, ...] | None = None  # a hand-picked set of arms instead of an ablation or grid

    def config(self, **overrides: Any) -> TrainConfig:
        """The base config with ``overrides`` (data, device, a smaller size for a quick look, …)."""
        return TrainConfig.from_dict({**self.base, **overrides})

    def plan(self, runs_root: Path | str, *, seeds: int | None = None, study_id: str | None = None, **overrides: Any) -> Study:
        """A new study of this name; ``overrides`` change the base (e.g. ``epochs=1`` for a tiny run)."""
        study_id = study_id or new_study_id(self.name)
        if self.variants is not None:
            base = self.config(**overrides)
            base = base if base.split_seed is not None else base.replace(split_seed=base.seed)
            seed_list = seeds_from(base.seed, seeds or self.seeds)
            study = Study(study_id, "ablation", base, list(self.variants), seed_list, Path(runs_root).resolve())
        else:
            study = plan_study(
                self.config(**overrides),
                Path(runs_root),
                ablate=list(self.ablate) if self.ablate else None,
                grid=self.grid,
                seeds=seeds or self.seeds,
                study_id=study_id,
            )
        study.name, study.reference = self.name, self.reference
        study.description = self.description
        return study

    def estimate(self, speed: Throughput, *, dataset_size: int = FULL_TRAIN_SET, **overrides: Any) -> Estimate:
        """Predicted wall time at the default size (or with ``overrides``) at ``speed``."""
        return estimate_study(self.plan(".", **overrides), dataset_size, speed)


NAMED_STUDIES: dict[str, NamedStudy] = {
    study.name: study
    for study in (
        NamedStudy(
            "lesson",
            "A lesson in five minutes: no augmentation, rotation by 90/180/270 degrees, or flip and 2-pixel shifts. "
            "Fast CNN, 2,500 images, 12 epochs, 3 seeds, scored on validation images as they are and rotated: "
            "what does a model learn from rotated training images?",
            LESSON_SUBSET,
            reference="none",
            variants=LESSON_VARIANTS,
        ),
        NamedStudy(
            "ablation",
            "The four study augmentations (rotation, resized_crop, translate, cutmix) at p = 0.5: none, each alone, "
            "all but one, all. Fast CNN, 5,000 images, 15 epochs, 3 seeds: does each op help a model that over-fits?",
            {**SMALL_SGD_SUBSET, "aug_p": 0.5, "mix_p": 0.5},
            reference="none",
            ablate=tuple(STUDY_OPS),
        ),
        NamedStudy(
            "aug_mix_grid",
            "The study's probabilities: aug_p 0 / 0.03 / 0.06 x mix_p 0 / 0.01 / 0.03 with the four study "
            "augmentations. Fast CNN, 5,000 images, 15 epochs, 3 seeds: do such small probabilities matter at all?",
            SMALL_SGD_SUBSET,
            reference="aug_p=0.0, mix_p=0.0",
            grid="aug_p=0,0.03,0.06;mix_p=0,0.01,0.03",
        ),
        NamedStudy(
            "dropout",
            "Dropout 0 / 0.1 / 0.2 / 0.4 in the study's simple CNN (after every convolution), no augmentation. "
            "5,000 images, 20 epochs, 3 seeds: how much does dropout alone close the gap?",
            STUDY_CNN_SUBSET,
            reference="dropout=0.0",
            grid="dropout=0,0.1,0.2,0.4",
        ),
    )
}


def get_named_study(name: str) -> NamedStudy:
    if name not in NAMED_STUDIES:
        raise ConfigError(f"Unknown study {name!r}; choose one of {', '.join(NAMED_STUDIES)}.")
    return NAMED_STUDIES[name]
