"""Training: the validated config and the engine that runs it on any device.

``TrainConfig`` imports without torch, so reading a run's config.json (``runs list``, ``presets``)
starts at once; the engine, which needs torch and the data loaders, is imported on first use.
"""

from typing import TYPE_CHECKING

from cifar_core.train.config import TrainConfig

if TYPE_CHECKING:
    from cifar_core.train.engine import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]


def __getattr__(name: str) -> object:
    """``train`` and ``TrainResult`` from ``engine``, imported when first asked for."""
    if name in ("TrainResult", "train"):
        from cifar_core.train import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
