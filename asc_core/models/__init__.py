"""The model zoo. Input [B, 1, F, T] log-mel, output 10-class logits."""

from asc_core.models import (  # noqa: F401  (registers)
    bc_resnet,
    cp_mobile,
    cp_resnet,
    dssdn,
    passt,
    rep_mobile,
    sscp_mobile,
    tf_sepnet,
)
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
