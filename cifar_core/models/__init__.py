"""Model registry: every model the engine can train, built by name."""

from cifar_core.models.registry import MODEL_REGISTRY, ModelSpec, build_model, count_parameters

__all__ = ["MODEL_REGISTRY", "ModelSpec", "build_model", "count_parameters"]
