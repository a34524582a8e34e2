"""Structured channel pruning with NNI 3.0, then NNI ModelSpeedup so the network is physically smaller.

Dependency-aware: ``auto_set_denpendency_group_ids`` groups convolutions whose outputs meet in a
residual addition (and all branches of a Rep-Mobile depthwise stage, which are summed), so they keep
the same channels. NNI 3.0's own tracer fails on torch 2.11; ModelSpeedup gets a torch.fx graph.
The classifier convolution/linear layer (outputs = classes) is never pruned.

A pruned model is saved as a plain state dict; ``rebuild`` re-creates its structure from the shapes in
that state dict on a freshly built model of the same family, so it reloads with weights_only=True.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings

import torch
import torch.nn as nn

from asc_core.complexity import BudgetError, Complexity, measure

log = logging.getLogger(__name__)


def _quiet_nni():
    """Import NNI quietly: its import registers torch.fx pytree nodes with a deprecated call (noise that says
    nothing to a user of this tool), and it logs every module it cannot replace (e.g. Identity, which needs no
    replacing) at ERROR level. Called before any use of NNI; nothing is changed at this module's import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*already registered as pytree node.*")
        warnings.filterwarnings("ignore", message=".*_register_pytree_node.*is deprecated.*")
        import nni  # noqa: F401  (its import installs its handlers)
        import nni.compression  # noqa: F401  (registers the pytree nodes)

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("nni"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


PRUNERS = ("l1", "l2")


def _config_list(model: nn.Module, sparsity: float) -> list[dict]:
    n_classes = _n_classes(model)
    exclude = [
        name
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
        and getattr(m, "out_channels", getattr(m, "out_features", 0)) == n_classes
    ]
    cfg = {"op_types": ["Conv2d"], "sparse_ratio": float(sparsity)}
    if exclude:
        cfg["exclude_op_names"] = exclude
    return [cfg]


def _n_classes(model: nn.Module) -> int:
    with torch.no_grad():
        return int(model.eval()(torch.zeros(*_shape(model))).shape[-1])


def _shape(model: nn.Module) -> tuple:
    """Two clips of the input the model is trained on: its run's feature preset (``model.feature_preset``, set
    by the runner when a config overrides the model's own front end, e.g. hop 512), else the model's own."""
    from asc_core.frontend import FEATURE_PRESETS
    from asc_core.models import input_shape

    features = getattr(model, "feature_preset", None)
    if features:
        return (2, 1, *FEATURE_PRESETS[features]().shape)
    return input_shape(getattr(model, "model_name", "dcase24_baseline"), 2)


def _pruner(kind: str, model, config_list, evaluator=None):
    _quiet_nni()
    from nni.compression.pruning import L1NormPruner, L2NormPruner

    if kind not in PRUNERS:
        raise ValueError(f"pruner must be one of {PRUNERS}, got {kind!r}")
    cls = L1NormPruner if kind == "l1" else L2NormPruner
    return cls(model, config_list, evaluator=evaluator) if evaluator is not None else cls(model, config_list)


def dependency_config(model: nn.Module, sparsity: float) -> list[dict]:
    from nni.compression.utils import auto_set_denpendency_group_ids

    _quiet_nni()
    # NNI's dependency analysis print()s to stdout; keep stdout clean for --json
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return auto_set_denpendency_group_ids(model, _config_list(model, sparsity), torch.randn(*_shape(model)))


def speedup_shape(model: nn.Module) -> tuple:
    """The dummy input NNI's speed-up propagates masks with: two clips, a quarter of the bins and half of the
    frames of the real input (at least 32 × 16). Channel masks do not depend on the input's size in these
    convolutional networks, and NNI's propagation costs grow with it: 6.9 s and 3.4 GB → 1.6 s and 1.1 GB for
    a width-64 Rep-Mobile (tests/compress check the result equals the full-size one, weights included)."""
    b, c, f, t = _shape(model)
    return (b, c, max(32, f // 4), max(16, t // 2))


def speedup(model: nn.Module, masks: dict) -> nn.Module:
    from nni.compression.speedup import ModelSpeedup

    _quiet_nni()
    model.eval()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        quiet = logging.getLogger("asc_core.nni_speedup")
        quiet.setLevel(logging.CRITICAL)
        ModelSpeedup(
            model, torch.randn(*speedup_shape(model)), masks, graph_module=torch.fx.symbolic_trace(model), logger=quiet
        ).speedup_model()
    return model


def with_sparsity(config: list[dict], sparsity: float) -> list[dict]:
    """The same dependency-grouped config list at another sparsity (grouping does not depend on it)."""
    return [dict(c, sparse_ratio=float(sparsity)) for c in config]


def prune_once(model: nn.Module, sparsity: float, pruner: str = "l1", config: list[dict] | None = None) -> nn.Module:
    """One-shot: a pruned, sped-up copy of ``model`` with ``sparsity`` of each prunable conv's channels removed.
    ``config``: a dependency config of ``model`` computed earlier (saves NNI's two jit traces)."""
    m = copy.deepcopy(model).cpu().eval()
    if sparsity <= 0:
        return m
    cfg = with_sparsity(config, sparsity) if config else dependency_config(m, sparsity)
    p = _pruner(pruner, m, cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        _, masks = p.compress()
    p.unwrap_model()
    return speedup(m, masks)


def prune_scheduled(
    model: nn.Module,
    sparsity: float,
    train_step,
    loader,
    pruner: str = "l1",
    schedule: str = "linear",
    total_times: int = 4,
    interval_steps: int = 5,
    lr: float = 1e-3,
    config: list[dict] | None = None,
    on_step=None,
    device: str = "cpu",
) -> nn.Module:
    """NNI LinearPruner / AGPPruner: the sparsity rises to ``sparsity`` over ``total_times`` updates,
    ``interval_steps`` training steps apart (the model trains with ``train_step`` in between), then speed-up.
    ``config``: the dependency config traced before (``solve_budget``'s), so the round traces once. ``on_step(step,
    total)`` after each training step: progress, and a cancel point (it may raise). ``device``: where the schedule's
    training steps run (batches are moved there; ``train_step`` must compute there too) — on a GPU machine this
    was the slowest stage of a pruned run when it ran on the CPU (110–210 s of a 170–300 s run on an H100 with
    eight runs sharing 16 cores). Tracing and the speed-up stay on the CPU."""
    _quiet_nni()
    import nni
    from nni.compression import TorchEvaluator
    from nni.compression.pruning import AGPPruner, LinearPruner

    if schedule == "one_shot":
        return prune_once(model, sparsity, pruner, config)
    m = copy.deepcopy(model).cpu()
    config = with_sparsity(config, sparsity) if config else dependency_config(m.eval(), sparsity)
    m.to(device)

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None, *a, **k):
        model.train()
        step = 0
        while step < max_steps:
            for batch in loader:
                batch = [b.to(device, non_blocking=True) if torch.is_tensor(b) else b for b in batch]
                loss = training_step(batch, model)
                optimizers.zero_grad()
                loss.backward()
                optimizers.step()
                step += 1
                if on_step is not None:
                    on_step(step, max_steps)
                if step >= max_steps:
                    break

    optimizer = nni.trace(torch.optim.Adam)(m.parameters(), lr=lr)
    evaluator = TorchEvaluator(training_func, optimizer, train_step, dummy_input=torch.randn(*_shape(m), device=device))
    base = _pruner(pruner, m, config, evaluator)
    sched = (LinearPruner if schedule == "linear" else AGPPruner)(base, interval_steps, total_times, evaluator)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        _, masks = sched.compress(max_steps=interval_steps * total_times, max_epochs=None)
    sched.unwrap_model()
    masks = {name: {k: None if v is None else v.cpu() for k, v in targets.items()} for name, targets in masks.items()}
    return speedup(m.cpu(), masks)


def channels_per_layer(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def width_sparsity(from_width: int, to_width: int) -> float:
    if not 0 < to_width <= from_width:
        raise ValueError(f"a pruning target width must be between 1 and the current width {from_width}, got {to_width}")
    return 1.0 - to_width / from_width


_SAME_CHANNELS = (nn.BatchNorm2d, nn.ReLU, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity)


def channel_sources(model: nn.Module) -> dict[str, str | None] | None:
    """For each convolution and BatchNorm, the convolution whose output channels it reads (None: the network's
    input), from one torch.fx trace. None when the graph has an operation that may change channel counts
    (concatenation, reshapes, ...): then only NNI's speed-up can say what a pruned network looks like."""
    import operator

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 — an untraceable model simply has no cheap count
        return None
    source: dict[str, str | None] = {}  # fx node name -> conv module name whose channels the tensor has
    out: dict[str, str | None] = {}
    for node in graph.nodes:
        arg = next((a for a in node.args if isinstance(a, torch.fx.Node)), None)  # `0 + branch` starts a sum
        src = source.get(arg.name) if arg is not None else None
        if node.op == "placeholder":
            source[node.name] = None
        elif node.op == "call_module":
            mod = model.get_submodule(node.target)
            if isinstance(mod, nn.Conv2d):
                if mod.groups not in (1, mod.in_channels):
                    return None
                out[node.target] = src
                source[node.name] = node.target
            elif isinstance(mod, _SAME_CHANNELS):
                if isinstance(mod, nn.BatchNorm2d):
                    out[node.target] = src
                source[node.name] = src
            else:
                return None
        elif node.op == "call_function" and node.target is operator.add:
            source[node.name] = src  # a residual sum: NNI's dependency groups keep both sides' channels equal
        elif node.op == "call_method" and node.target == "flatten" or node.op == "output":
            source[node.name] = src
        else:
            return None
    return out


def pruned_structure(model: nn.Module, masks: dict, sources: dict[str, str | None]) -> nn.Module:
    """The network NNI's speed-up makes from ``masks`` (same layer shapes, weights not carried): each pruned
    convolution keeps its unmasked output channels, depthwise ones and BatchNorms follow their input, every
    layer's input follows its source. Only for counting (MACs, parameters), which it does in milliseconds."""
    m = copy.deepcopy(model).cpu()
    count: dict[str | None, int] = {None: int(_shape(model)[1])}
    for name, src in sources.items():
        mod = m.get_submodule(name)
        parent_name, _, attr = name.rpartition(".")
        parent = m.get_submodule(parent_name) if parent_name else m
        cin = count[src]
        if isinstance(mod, nn.BatchNorm2d):
            new = nn.BatchNorm2d(cin, mod.eps, mod.momentum)
        else:
            depthwise = mod.groups == mod.in_channels and mod.groups > 1
            if depthwise:
                cout = cin
            elif name in masks:
                cout = int((masks[name]["weight"].flatten(1) != 0).any(1).sum())
            else:
                cout = mod.out_channels
            count[name] = cout
            new = nn.Conv2d(cin, cout, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                            cin if depthwise else 1, bias=mod.bias is not None)  # fmt: skip
        if isinstance(parent, (nn.Sequential, nn.ModuleList)) and attr.isdigit():
            parent[int(attr)] = new
        else:
            setattr(parent, attr, new) if not isinstance(parent, nn.ModuleDict) else parent.__setitem__(attr, new)
    return m


def masks_at(model: nn.Module, sparsity: float, config: list[dict], pruner: str = "l1") -> dict:
    """NNI's channel masks of ``model`` at ``sparsity`` (no speed-up): cheap, well under a second."""
    m = copy.deepcopy(model).cpu().eval()
    p = _pruner(pruner, m, with_sparsity(config, sparsity))
    with contextlib.redirect_stdout(io.StringIO()):
        _, masks = p.compress()
    p.unwrap_model()
    return masks


def solve_budget(
    model: nn.Module,
    max_macs: int,
    max_bytes: int,
    precision: str = "fp16",
    pruner: str = "l1",
    deploy=None,
    tol: float = 0.01,
    guess: float | None = None,
    deps: list[dict] | None = None,
) -> tuple[float, Complexity]:
    """The smallest sparsity whose pruned (and deployed) network meets MACs ≤ max_macs and bytes ≤ max_bytes.
    Raises BudgetError with the smallest figures reachable when even 95 % sparsity does not fit.

    The network is traced once (NNI's dependency groups and the channel graph); each candidate sparsity is then
    counted on the structure its masks give (``pruned_structure``), not sped up — NNI's speed-up takes seconds
    per call and is run once, on the chosen sparsity, by the caller. Graphs the channel count does not cover
    (concatenations) fall back to a real speed-up per candidate. ``deps``: a dependency config computed before."""
    deploy = deploy or (lambda m: m)
    deps = deps or dependency_config(copy.deepcopy(model).cpu().eval(), 0.5)
    sources = channel_sources(copy.deepcopy(model).cpu().eval())
    shape = (1, *_shape(model)[1:])

    def figures(s):
        if sources is None:
            return measure(deploy(prune_once(model, s, pruner, deps)), shape)
        masks = masks_at(model, s, deps, pruner) if s > 0 else {}
        return measure(deploy(pruned_structure(model, masks, sources)), shape)

    def fits(c):
        return c.macs <= max_macs and c.bytes(precision) <= max_bytes

    c0 = figures(0.0)
    if fits(c0):
        return 0.0, c0
    hi_c = figures(0.95)
    if not fits(hi_c):
        raise BudgetError(
            f"budget unreachable: at most {max_macs:,} MACs and {max_bytes:,} B at {precision} asked, "
            f"but the smallest this model prunes to is {hi_c.macs:,} MACs and {hi_c.bytes(precision):,} B"
        )
    lo, hi = 0.0, 0.95
    best = hi_c
    if guess is not None:  # bracket around a good first guess (e.g. 1 − W/W0 for a width target)
        for cand_lo, cand_hi in ((max(0.0, guess - 0.06), min(0.95, guess + 0.06)),):
            c_hi = figures(cand_hi)
            if fits(c_hi) and not fits(figures(cand_lo)):
                lo, hi, best = cand_lo, cand_hi, c_hi
    while hi - lo > tol:
        mid = (lo + hi) / 2
        c = figures(mid)
        if fits(c):
            hi, best = mid, c
        else:
            lo = mid
    return hi, best


def rebuild(model: nn.Module, state_dict: dict) -> nn.Module:
    """Give ``model`` (a fresh network of the same family) the layer shapes found in ``state_dict``, then load it."""
    for name, mod in list(model.named_modules()):
        w = state_dict.get(f"{name}.weight") if name else None
        if w is None:
            continue
        new = None
        if isinstance(mod, nn.Conv2d) and tuple(w.shape) != tuple(mod.weight.shape):
            out_c, in_per_group = w.shape[0], w.shape[1]
            depthwise = mod.groups == mod.in_channels and mod.groups > 1
            groups = out_c if depthwise else mod.groups
            new = nn.Conv2d(
                in_per_group * groups,
                out_c,
                mod.kernel_size,
                mod.stride,
                mod.padding,
                mod.dilation,
                groups,
                bias=mod.bias is not None,
            )
        elif isinstance(mod, nn.BatchNorm2d) and w.shape[0] != mod.num_features:
            new = nn.BatchNorm2d(w.shape[0], mod.eps, mod.momentum)
        elif isinstance(mod, nn.Linear) and tuple(w.shape) != tuple(mod.weight.shape):
            new = nn.Linear(w.shape[1], w.shape[0], bias=mod.bias is not None)
        if new is not None:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            if isinstance(parent, (nn.Sequential, nn.ModuleList)) and attr.isdigit():
                parent[int(attr)] = new
            elif isinstance(parent, nn.ModuleDict):
                parent[attr] = new
            else:
                setattr(parent, attr, new)
    model.load_state_dict(state_dict)
    return model
