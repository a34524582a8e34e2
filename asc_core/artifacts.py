"""Loading a run's saved models (plain state dicts: ``torch.load(weights_only=True)``), pruned ones included."""

from __future__ import annotations

import torch

from asc_core.compress.prune import rebuild
from asc_core.models import create_model, reparameterizable


def load_model(path: str, meta: dict) -> torch.nn.Module:
    """Rebuild the network recorded in ``meta`` (model, width, kwargs, folded) and load ``path`` into it;
    layer shapes come from the state dict, so pruned networks come back with their pruned structure."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    kwargs = dict(meta.get("kwargs") or {})
    if meta.get("width"):
        kwargs["width"] = meta["width"]
    if meta.get("folded") and reparameterizable(meta["model"]):
        kwargs["inference_mode"] = True
    model = create_model(meta["model"], **kwargs)
    return rebuild(model, state).eval()


def load_run_model(store, run_id: str, kind: str = "deployed") -> torch.nn.Module:
    arts = store.artifacts(run_id)
    if kind not in arts:
        raise KeyError(f"run {run_id} has no {kind!r} model (it has: {', '.join(arts) or 'none'})")
    return load_model(arts[kind]["path"], arts[kind])
