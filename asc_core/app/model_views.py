"""What the Models page shows, computed without Streamlit: a network's layers and budget per precision,
a Rep-Mobile block's branch kernels and folded kernel with the measured folding error, and a run's
pruning trajectory."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch

from asc_core.complexity import BYTES_PER_PARAM, MAX_MACS, MAX_PARAM_BYTES, measure


def layer_table(model: torch.nn.Module, shape) -> tuple[pd.DataFrame, dict]:
    """Per-layer params and MACs (torchinfo) and the network's totals."""
    c = measure(model, tuple(shape))
    df = pd.DataFrame(
        [
            {
                "layer": r.name,
                "kind": r.kind,
                "output": "×".join(map(str, r.output_shape[1:])),
                "params": r.params,
                "MACs": r.macs,
            }
            for r in c.layers
        ]
    )
    return df, c.to_dict()


def budget_table(params: int, macs: int) -> pd.DataFrame:
    """The DCASE budget at each precision: parameter bytes vs 128 kB, MACs vs 30 M."""
    rows = [
        {
            "precision": p,
            "parameter bytes": params * n,
            "limit (B)": MAX_PARAM_BYTES,
            "bytes fit": params * n <= MAX_PARAM_BYTES,
            "MACs": macs,
            "MACs fit": macs <= MAX_MACS,
        }
        for p, n in BYTES_PER_PARAM.items()
    ]
    return pd.DataFrame(rows)


def rep_blocks(model: torch.nn.Module) -> list[str]:
    from asc_core.models.rep_mobile import RepDepthwise

    return [n for n, m in model.named_modules() if isinstance(m, RepDepthwise) and not m.inference_mode]


def randomise_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give BatchNorms non-trivial statistics (an untrained network folds trivially otherwise)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model.eval()


def fold_view(model: torch.nn.Module, block: str, channel: int = 0) -> dict:
    """The block's branch kernels (BN folded, in the 3×3 grid) for one channel, the folded kernel, and the
    max abs difference between the multi-branch block and its folded copy on a random input."""
    m = dict(model.named_modules())[block].eval()
    channel = max(0, min(channel, m.channels - 1))
    kernels = {n: k[channel, 0].numpy() for n, k in m.branch_kernels().items()}
    folded = copy.deepcopy(m)
    folded.reparameterize()
    x = torch.randn(2, m.channels, 16, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        err = float((m(x) - folded(x)).abs().max())
    return {
        "branches": kernels,
        "folded": folded.conv.weight[channel, 0].detach().numpy()
        * float(folded.bn.weight[channel].detach() / (folded.bn.running_var[channel] + folded.bn.eps).sqrt()),
        "error": err,
        "channels": m.channels,
        "channel": channel,
    }


def trajectory(summary: dict) -> pd.DataFrame:
    """One row per stage of a pruned run: the wide student, then each round (params, MACs, accuracies)."""
    rounds = summary.get("pruning_rounds") or []
    if not rounds:
        return pd.DataFrame()
    parent = summary.get("parent") or {}
    rows = [
        {
            # a parent another run trained (train/parents.py) is named: that run is the same network, before pruning
            "step": "trained wide student" + (f" (run {parent['run_id']}'s)" if parent.get("reused") else ""),
            "params": rounds[0]["params_before"],
            "MACs": rounds[0]["macs_before"],
            "accuracy": rounds[0].get("accuracy_before"),
        }
    ]
    for r in rounds:
        rows.append(
            {
                "step": f"round {r['round']}: {r['target']}",
                "params": r["params"],
                "MACs": r["macs"],
                "accuracy after pruning": r["accuracy_after_pruning"],
                "accuracy": r["accuracy_after_finetune"],
                "sparsity": r["sparsity"],
            }
        )
    return pd.DataFrame(rows)


def channels_frame(summary: dict) -> pd.DataFrame:
    """Channels kept per conv layer after each round (long format)."""
    rows = []
    for r in summary.get("pruning_rounds") or []:
        for layer, n in (r.get("channels") or {}).items():
            rows.append({"layer": layer, "round": f"round {r['round']}", "channels": n})
    return pd.DataFrame(rows, columns=["layer", "round", "channels"])


def kernel_grid(kernels: dict[str, np.ndarray], folded: np.ndarray) -> dict[str, np.ndarray]:
    return {**{f"branch {k}": v for k, v in kernels.items()}, "folded (sum)": folded}
