"""Warnings when the classes a run trains or validates on do not cover the classes it predicts.

A source whose images are all one class trains to a validation accuracy of 1.0 without learning
anything; a validation split missing a class scores the model on the others only. Neither is an
error (a teacher may show exactly that on purpose), so they are sentences to show, not refusals.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cifar_core.data.types import UNLABELLED


def _present(labels: torch.Tensor, count: int) -> list[bool]:
    known = labels[labels != UNLABELLED].to(torch.int64).cpu()
    return [bool(n) for n in torch.bincount(known, minlength=count)[:count].tolist()]


def _names(classes: Sequence[str], flags: list[bool]) -> list[str]:
    return [name for name, flag in zip(classes, flags, strict=True) if flag]


def class_coverage_warnings(train_labels: torch.Tensor, val_labels: torch.Tensor, classes: Sequence[str]) -> list[str]:
    """Plain-words warnings about classes missing from the training or the validation images.

    An empty ``val_labels`` (training on everything) draws no validation warning.
    """
    in_train = _present(train_labels, len(classes))
    warnings = []
    present = _names(classes, in_train)
    if len(present) == 1:
        warnings.append(
            f"Every training image is a {present[0]}: the model can only learn to answer {present[0]}, "
            "so its accuracy means nothing. Use a source with all the classes."
        )
    elif missing := _names(classes, [not flag for flag in in_train]):
        warnings.append(
            f"The training images hold no {', '.join(missing)} ({len(missing)} of {len(classes)} classes): "
            "the model can never learn to recognise them."
        )
    if len(val_labels):
        in_val = _present(val_labels, len(classes))
        absent = _names(classes, [trained and not validated for trained, validated in zip(in_train, in_val, strict=True)])
        if absent:
            warnings.append(
                f"The validation images hold no {', '.join(absent)}: validation accuracy says nothing about "
                f"{'that class' if len(absent) == 1 else 'those classes'}."
            )
    return warnings
