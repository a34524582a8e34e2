"""Model complexity by the DCASE rules.

MACs and parameters come from torchinfo on the network alone (no mel front end) for one 1-s log-mel
input of the configured shape, as the DCASE2024 baseline's ``nessi.get_torch_size`` does. Parameter
memory is counted in bytes at a precision (fp32 = 4, fp16 = 2, int8 = 1 byte per parameter, the 2025
rule). Limits: 30,000,000 MACs and 128,000 bytes of parameters.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import torch.nn as nn

from asc_core.constants import MAX_MACS, MAX_PARAM_BYTES  # noqa: E402

BYTES_PER_PARAM = {"fp32": 4, "fp16": 2, "int8": 1}


class BudgetError(ValueError):
    """A model does not meet, or cannot be made to meet, a complexity budget."""


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: list[int]
    params: int
    macs: int


@dataclass
class Complexity:
    params: int
    macs: int
    input_shape: tuple[int, ...]
    layers: list[LayerRow] = field(default_factory=list)

    def bytes(self, precision: str = "fp16") -> int:
        if precision not in BYTES_PER_PARAM:
            raise ValueError(f"precision must be one of {', '.join(BYTES_PER_PARAM)}, got {precision!r}")
        return self.params * BYTES_PER_PARAM[precision]

    @property
    def bytes_by_precision(self) -> dict[str, int]:
        return {p: self.bytes(p) for p in BYTES_PER_PARAM}

    @property
    def widest_precision(self) -> str | None:
        """The widest precision whose parameter memory fits 128 kB (None if even int8 does not)."""
        for p in BYTES_PER_PARAM:
            if self.bytes(p) <= MAX_PARAM_BYTES:
                return p
        return None

    @property
    def meets_dcase(self) -> bool:
        return self.macs <= MAX_MACS and self.widest_precision is not None

    def verdict(self) -> str:
        parts = []
        parts.append(f"{self.macs / 1e6:.2f} M MACs {'≤' if self.macs <= MAX_MACS else '>'} 30 M")
        p = self.widest_precision
        if p:
            parts.append(f"{self.bytes(p):,} B at {p} ≤ 128,000 B")
        else:
            parts.append(f"{self.bytes('int8'):,} B even at int8 > 128,000 B")
        return ("meets" if self.meets_dcase else "exceeds") + " the DCASE budget: " + "; ".join(parts)

    def to_dict(self, layers: bool = False) -> dict:
        d = {
            "params": self.params,
            "macs": self.macs,
            "input_shape": list(self.input_shape),
            "bytes": self.bytes_by_precision,
            "widest_precision": self.widest_precision,
            "meets_dcase": self.meets_dcase,
            "verdict": self.verdict(),
        }
        if layers:
            d["layers"] = [asdict(r) for r in self.layers]
        return d


def measure(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 256, 65)) -> Complexity:
    """Params and MACs of ``model`` (a float copy in eval mode) for one input of ``input_shape``."""
    import torchinfo

    m = copy.deepcopy(model).float().eval()
    s = torchinfo.summary(
        m, input_size=input_shape, verbose=0, device="cpu", col_names=("output_size", "num_params", "mult_adds")
    )
    rows = []
    for layer in s.summary_list:
        if layer.is_leaf_layer or not list(layer.module.children()):
            rows.append(
                LayerRow(
                    _layer_name(layer),
                    layer.class_name,
                    list(layer.output_size),
                    int(layer.num_params),
                    int(layer.macs),
                )
            )
    return Complexity(int(s.total_params), int(s.total_mult_adds), tuple(input_shape), rows)


def _layer_name(layer) -> str:
    names = []
    node = layer
    while node is not None and node.depth > 0:
        names.append(node.var_name)
        node = node.parent_info
    return ".".join(reversed(names))


def check_budget(
    c: Complexity, max_macs: int = MAX_MACS, max_bytes: int = MAX_PARAM_BYTES, precision: str = "fp16"
) -> None:
    """Raise BudgetError naming what is over the budget."""
    over = []
    if c.macs > max_macs:
        over.append(f"{c.macs:,} MACs > {max_macs:,}")
    if c.bytes(precision) > max_bytes:
        over.append(f"{c.bytes(precision):,} B of parameters at {precision} > {max_bytes:,} B")
    if over:
        raise BudgetError("model exceeds the budget: " + "; ".join(over))


def model_report(name: str, width: int | None = None, **kwargs) -> dict:
    """Figures of registered model ``name``: the deployed network (folded, for Rep-Mobile) with its
    per-layer table and DCASE verdict, and the training-time network where it differs."""
    from asc_core.models import create_model, input_shape, reparameterizable
    from asc_core.models.rep_mobile import reparameterize_model

    if width is not None:
        kwargs["width"] = width
    model = create_model(name, **kwargs)
    shape = input_shape(name)
    has_branches = reparameterizable(name)
    deployed = reparameterize_model(model) if has_branches else model
    rep = {"model": name, "width": width, "deployed": measure(deployed, shape).to_dict(layers=True)}
    if has_branches:
        rep["training"] = measure(model, shape).to_dict()
    return rep


@lru_cache(maxsize=256)
def _deployed(name: str, width: int | None, kwargs_json: str, features: str | None) -> Complexity:
    from asc_core.frontend import FEATURE_PRESETS
    from asc_core.models import create_model, input_shape
    from asc_core.models.rep_mobile import reparameterize_model

    kw = json.loads(kwargs_json) | ({"width": width} if width is not None else {})
    shape = (1, 1, *FEATURE_PRESETS[features]().shape) if features else input_shape(name)
    return measure(reparameterize_model(create_model(name, **kw)), shape)


def deployed_complexity(
    name: str, width: int | None = None, kwargs: dict | None = None, features: str | None = None
) -> Complexity:
    """Figures of the deployed (folded, for Rep-Mobile) width-``width`` network of ``name`` for one second of
    input of feature preset ``features`` (default: the model's own); cached."""
    return _deployed(name, width, json.dumps(kwargs or {}, sort_keys=True), features)
