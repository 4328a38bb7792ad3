"""How a trained model holds up when its test images are rotated, shifted, cropped, noisy, blurred or compressed.

``TRANSFORMS`` names every batched, seeded transform; ``score_run(run, images, labels)`` returns
a ``RobustnessResult`` (clean accuracy, accuracy per transform × severity, mCA, per class).
"""

from cifar_core.robustness.score import RobustnessResult, load_scorable, score_model, score_run, scoring_images
from cifar_core.robustness.transforms import BASE_SEED, CORRUPTIONS, GEOMETRIC, TRANSFORMS, Transform

__all__ = [
    "BASE_SEED",
    "CORRUPTIONS",
    "GEOMETRIC",
    "TRANSFORMS",
    "RobustnessResult",
    "Transform",
    "load_scorable",
    "score_model",
    "score_run",
    "scoring_images",
]
