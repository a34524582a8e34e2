"""The model zoo. Input [B, 1, F, T] log-mel, output 10-class logits. Names, families and front ends come from
``catalog`` without torch; an architecture's module is imported when one of its models is first built."""

from asc_core.models._registry import (
    STUDENT_WIDTHS,
    create_model,
    list_models,
    model_doc,
    model_family,
    model_features,
    register_model,
    reparameterizable,
)

__all__ = [
    "create_model",
    "list_models",
    "model_family",
    "model_doc",
    "model_features",
    "register_model",
    "STUDENT_WIDTHS",
    "input_shape",
    "reparameterizable",
]


def input_shape(name: str, batch: int = 1) -> tuple[int, int, int, int]:
    """The [B, 1, F, T] log-mel shape of one second for model ``name``."""
    from asc_core.frontend import FEATURE_PRESETS

    f, t = FEATURE_PRESETS[model_features(name)]().shape
    return (batch, 1, f, t)
