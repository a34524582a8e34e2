"""One registry of models (timm style): ``register_model``, ``list_models``, ``create_model``. What a model is
called, its family and its front end are in ``catalog.CATALOG`` (no torch); its factory is imported from its
module when it is first built."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from asc_core.constants import STUDENT_WIDTHS, check_width  # noqa: F401
from asc_core.models.catalog import CATALOG

if TYPE_CHECKING:
    import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` as the factory of the catalog's model of its function name."""
    name, module = fn.__name__, fn.__module__.rsplit(".", 1)[-1]
    if name not in CATALOG:
        raise ValueError(f"model {name!r} is not in asc_core/models/catalog.py: add it there (module, family, "
                         "front end) so configs can name it")  # fmt: skip
    if CATALOG[name].module != module:
        raise ValueError(f"model {name!r} is registered in {module}.py; the catalog says {CATALOG[name].module}.py")
    _MODELS[name] = fn
    return fn


def list_models(family: str | None = None) -> list[str]:
    return sorted(n for n, e in CATALOG.items() if family is None or e.family == family)


def model_family(name: str) -> str:
    _check_name(name)
    return CATALOG[name].family


def model_features(name: str) -> str:
    """Name of the feature preset a model expects ('dcase24', 'rep_mobile' or 'waveform')."""
    _check_name(name)
    return CATALOG[name].features


def model_doc(name: str) -> str:
    """First line of a model's docstring (what the app and ``models`` show)."""
    return (_factory(name).__doc__ or "").strip().splitlines()[0]


def reparameterizable(name: str) -> bool:
    """Whether model ``name`` trains with branches that fold into a smaller deployed network (its factory
    takes ``inference_mode``: True builds the folded structure directly, e.g. to load deployed weights)."""
    import inspect

    return "inference_mode" in inspect.signature(_factory(name)).parameters


def _check_name(name: str) -> None:
    if name not in CATALOG:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(sorted(CATALOG))}")


def _factory(name: str) -> Callable[..., nn.Module]:
    _check_name(name)
    if name not in _MODELS:  # importing its module registers it
        importlib.import_module(f"asc_core.models.{CATALOG[name].module}")
    return _MODELS[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; unknown names and bad arguments raise ValueError naming the valid ones."""
    factory = _factory(name)
    if kwargs.get("width") is not None:
        check_width(kwargs["width"])
    try:
        model = factory(**kwargs)
    except TypeError as e:
        raise ValueError(f"bad arguments for model {name!r}: {e}") from None
    model.model_name = name
    model.feature_preset = CATALOG[name].features
    return model
