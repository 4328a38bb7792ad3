"""Is a run learning at all? A plain-words warning when its validation accuracy sits at chance.

A model that predicts one class for every image scores 1/num_classes (10% on CIFAR-10): the
curves move, the run "finishes", and nothing says it never learned. This is the one place that
decides when a run is at chance level and says why it likely is; the Train, Runs and Experiments
pages, ``runs list`` and the CLI's train summary all ask it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Within this many accuracy points (as a fraction) of chance counts as chance level.
CHANCE_MARGIN = 0.02
# Epochs a run gets before it is judged (the first epoch of a short run is often still at chance).
EPOCHS_BEFORE_JUDGING = 2


def chance_level(num_classes: int) -> float:
    """The accuracy of guessing: 1 / number of classes."""
    return 1.0 / max(1, num_classes)


def at_chance(val_acc: float | None, num_classes: int) -> bool:
    """True when ``val_acc`` is within ``CHANCE_MARGIN`` of chance (or below it)."""
    return val_acc is not None and val_acc <= chance_level(num_classes) + CHANCE_MARGIN


def chance_warning(epoch_events: Sequence[dict[str, Any]], num_classes: int, *, finished: bool = False) -> str | None:
    """One sentence when validation accuracy is still at chance after 2 epochs or at the run's end, else None.

    ``epoch_events`` are the run's epoch events (other event types are ignored, so a run's whole
    event list may be passed); ``finished`` judges a run that ended after fewer than 2 epochs too.
    """
    val_accs = [event["val_acc"] for event in epoch_events if event.get("type", "epoch") == "epoch" and event.get("val_acc") is not None]
    if not val_accs or (len(val_accs) < EPOCHS_BEFORE_JUDGING and not finished):
        return None
    if not at_chance(val_accs[-1], num_classes):
        return None
    chance = chance_level(num_classes)
    if max(val_accs) > chance + CHANCE_MARGIN:
        return (
            f"Validation accuracy fell back to {val_accs[-1]:.1%}, chance level for {num_classes} classes ({chance:.0%}): "
            "training has likely diverged, usually because the learning rate is too high for this model."
        )
    return (
        f"Validation accuracy is {val_accs[-1]:.1%} after {len(val_accs)} epoch(s), chance level for {num_classes} classes "
        f"({chance:.0%}): the model has not learned yet. Likely causes: too few images or epochs for this model "
        "(with a large batch, a small image set gives only a few training steps per epoch), or a learning rate "
        "too high or too low. Try more images or epochs, a smaller batch, or the classroom recipe."
    )
