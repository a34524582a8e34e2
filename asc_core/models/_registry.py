"""One registry of models (timm style): ``register_model``, ``list_models``, ``create_model``."""

from __future__ import annotations

import warnings
from typing import Callable

import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_FAMILY: dict[str, str] = {}
_FEATURES: dict[str, str] = {}
from asc_core.constants import STUDENT_WIDTHS, check_width  # noqa: E402,F401


def register_model(fn: Callable[..., nn.Module] | None = None, *, family: str = "student", features: str = "dcase24"):
    """Decorator: register ``fn`` under its function name. ``family`` is 'student' (a CNN that fits or
    can be pruned to the DCASE budget) or 'teacher'; ``features`` names its front-end preset."""

    def wrap(f):
        name = f.__name__
        if name in _MODELS:
            warnings.warn(f"model {name!r} registered twice; the later one wins", stacklevel=2)
        _MODELS[name] = f
        _FAMILY[name] = family
        _FEATURES[name] = features
        return f

    return wrap(fn) if fn is not None else wrap


def list_models(family: str | None = None) -> list[str]:
    _ensure_loaded()
    return sorted(n for n in _MODELS if family is None or _FAMILY[n] == family)


def model_family(name: str) -> str:
    _ensure_loaded()
    return _FAMILY[name]


def model_features(name: str) -> str:
    """Name of the feature preset a model expects ('dcase24' or 'passt')."""
    _ensure_loaded()
    _check_name(name)
    return _FEATURES[name]


def model_doc(name: str) -> str:
    """First line of a model's docstring (what the app and ``models`` show)."""
    _ensure_loaded()
    _check_name(name)
    return (_MODELS[name].__doc__ or "").strip().splitlines()[0]


def reparameterizable(name: str) -> bool:
    """Whether model ``name`` trains with branches that fold into a smaller deployed network (its factory
    takes ``inference_mode``: True builds the folded structure directly, e.g. to load deployed weights)."""
    import inspect

    _ensure_loaded()
    _check_name(name)
    return "inference_mode" in inspect.signature(_MODELS[name]).parameters


def _check_name(name: str) -> None:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(sorted(_MODELS))}")


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; unknown names and bad arguments raise ValueError naming the valid ones."""
    _ensure_loaded()
    _check_name(name)
    if kwargs.get("width") is not None:
        check_width(kwargs["width"])
    try:
        model = _MODELS[name](**kwargs)
    except TypeError as e:
        raise ValueError(f"bad arguments for model {name!r}: {e}") from None
    model.model_name = name
    model.feature_preset = _FEATURES[name]
    return model


def _ensure_loaded():
    # importing the package registers every architecture module
    import asc_core.models  # noqa: F401
