"""The model zoo. Input [B, 1, F, T] log-mel, output 10-class logits."""

from asc_core.models._registry import STUDENT_WIDTHS, create_model, list_models, model_family, register_model
from asc_core.models import cp_mobile, rep_mobile  # noqa: F401  (registers the architectures)

__all__ = ["create_model", "list_models", "model_family", "register_model", "STUDENT_WIDTHS"]
