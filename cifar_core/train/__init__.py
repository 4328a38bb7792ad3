"""Training: the validated config and the engine that runs it on any device."""

from cifar_core.train.config import TrainConfig
from cifar_core.train.engine import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
