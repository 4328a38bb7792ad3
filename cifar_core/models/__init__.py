"""Model registry: every model the engine can train, built by name."""

from cifar_core.models.registry import MODEL_REGISTRY, ExplainLayers, ModelSpec, build_model, count_parameters, explain_layers

__all__ = ["MODEL_REGISTRY", "ExplainLayers", "ModelSpec", "build_model", "count_parameters", "explain_layers"]
