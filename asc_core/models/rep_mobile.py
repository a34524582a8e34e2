"""Rep-Mobile (Han et al., "Data-Efficient Low-Complexity Acoustic Scene Classification via Distilling
and Progressive Pruning", DCASE2024 Task 1 winner).

CP-Mobile blocks whose depthwise 3×3 convolution gets parallel training-time branches — 1×1, 3×1
(frequency), 1×3 (time), each with its own BatchNorm, plus a BatchNorm-only identity branch where
the stride is 1 — summed before the ReLU. ``reparameterize()`` folds every branch into one depthwise
3×3 kernel (zero-padding the smaller kernels into the 3×3 grid ACNet-style, folding each BatchNorm:
W' = W·γ/σ, b' = β − μ·γ/σ). The folded stage is stored as a bias-free depthwise conv followed by an
identity-statistics BatchNorm carrying the bias, i.e. exactly the layers of plain CP-Mobile, so the
deployed network has the same parameters and MACs as CP-Mobile of the same width.

The branch set is configurable (Table II of the paper: without 3×3, without 1×1, without 3×1 and 1×3).
The paper's text names four branches (3×3, 1×1, 3×1, 1×3); the BatchNorm-only identity branch is RepVGG's
and not in the paper — ``rep_mobile`` keeps it by default (as earlier runs of this product trained it), the
paper's model ``rep_mobile_paper`` and the ``paper`` preset use the four branches.

Table I of the paper (126K params, 29 M MACs at base 32) is ``rep_mobile_paper``: CP-Mobile's 2023 layout
(multiplier 2.3, expansion 3.0, strides b2 (2,2), b4 (2,1)) on the paper's front end (hop 512 → 256 × 63):
126,940 parameters and 28.89 M MACs deployed. On the DCASE24 baseline's strides the same widths cost 53.2 M MACs.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from asc_core.models._registry import register_model
from asc_core.models.cp_mobile import CPMobile, CPMobileConfig, resolve_strides

__all__ = ["RepDepthwise", "reparameterize_model", "BRANCHES", "PAPER_BRANCHES"]

BRANCHES = ("3x3", "1x1", "3x1", "1x3", "identity")
PAPER_BRANCHES = ("3x3", "1x1", "3x1", "1x3")  # the four the paper's text names
_KERNEL = {"3x3": (3, 3), "1x1": (1, 1), "3x1": (3, 1), "1x3": (1, 3)}


class RepDepthwise(nn.Module):
    """Depthwise conv stage with re-parameterisable branches; output = ReLU(Σ branches)."""

    def __init__(self, channels: int, stride=(1, 1), branches=BRANCHES, inference_mode: bool = False):
        super().__init__()
        stride = tuple(stride) if isinstance(stride, (tuple, list)) else (stride, stride)
        unknown = set(branches) - set(BRANCHES)
        if unknown or not branches:
            raise ValueError(f"branches must be a non-empty subset of {BRANCHES}, got {branches!r}")
        self.stride = stride
        self.branch_names = tuple(b for b in BRANCHES if b in branches and (b != "identity" or stride == (1, 1)))
        self.inference_mode = inference_mode
        self.act = nn.ReLU(inplace=True)
        if inference_mode:
            self._build_deploy(channels)
            return
        self.branches = nn.ModuleDict()
        for name in self.branch_names:
            if name == "identity":
                self.branches[name] = nn.BatchNorm2d(channels)
            else:
                kh, kw = _KERNEL[name]
                self.branches[name] = nn.Sequential(
                    nn.Conv2d(
                        channels, channels, (kh, kw), stride, padding=(kh // 2, kw // 2), groups=channels, bias=False
                    ),
                    nn.BatchNorm2d(channels),
                )

    @property
    def channels(self) -> int:
        """Current channel count (read from the layers, so it stays right after channel pruning)."""
        if self.inference_mode:
            return self.conv.out_channels
        first = next(iter(self.branches.values()))
        return (first if isinstance(first, nn.BatchNorm2d) else first[1]).num_features

    def _build_deploy(self, c: int):
        self.conv = nn.Conv2d(c, c, 3, self.stride, padding=1, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)

    # All branches as one grouped convolution (``_grouped``: the same function, exactly) — measured slower
    # everywhere so far, so off by default: on a 2-core CPU 1.1-5x slower per stage (oneDNN has no fast kernel
    # for a depthwise convolution with several outputs per channel), on an H200 in bf16 the whole training step
    # 2.1x (width 32) and 3.5x (width 96) slower (`bench train` prints both forms on a GPU). "always" / "never";
    # "cuda" uses it on a GPU only.
    grouped = "never"

    def forward(self, x):
        if self.inference_mode:
            return self.act(self.bn(self.conv(x)))
        if self._can_group(x):
            return self.act(self._grouped(x))
        return self.act(self._branch_sum(x))

    def _branch_sum(self, x):
        out = 0
        for b in self.branches.values():
            out = out + b(x)
        return out

    def _plain_layers(self) -> bool:
        """Plain layers only (NNI's pruning wraps them with masks); BatchNorms alike and exponential."""
        if len({(bn.momentum, bn.eps) for bn in self.branch_norms()}) != 1:
            return False
        for name in self.branch_names:
            b = self.branches[name]
            conv, bn = (None, b) if name == "identity" else (b[0], b[1])
            if type(bn) is not nn.BatchNorm2d or bn.momentum is None or not bn.track_running_stats:
                return False
            if conv is not None and type(conv) is not nn.Conv2d:
                return False
        return True

    def _can_group(self, x) -> bool:
        if torch.fx._symbolic_trace.is_fx_symbolic_tracing() or self.grouped == "never":
            return False
        if self.grouped == "cuda" and not x.is_cuda:
            return False
        return self._plain_layers()

    def branch_norms(self) -> list[nn.BatchNorm2d]:
        return [b if name == "identity" else b[1] for name, b in self.branches.items()]

    def _grouped(self, x):
        """Σ_b BN_b(conv_b(x)) as one grouped convolution with every branch's kernel in the 3×3 grid (outputs
        ordered channel-major), one BatchNorm over the stacked outputs (each branch keeps its own statistics,
        running averages written back) and a sum: the same function, the same batch statistics."""
        c, names = self.channels, self.branch_names
        kernels, bns = [], []
        for name in names:
            if name == "identity":
                bn = self.branches[name]
                k = x.new_zeros(c, 1, 3, 3)
                k[:, 0, 1, 1] = 1.0
            else:
                conv, bn = self.branches[name]
                kh, kw = _KERNEL[name]
                k = F.pad(conv.weight, [(3 - kw) // 2, (3 - kw) // 2, (3 - kh) // 2, (3 - kh) // 2])
            kernels.append(k)
            bns.append(bn)
        nb = len(names)

        def stack(ts):
            return torch.stack(ts, 1).reshape(c * nb)

        y = F.conv2d(x, torch.stack(kernels, 1).reshape(c * nb, 1, 3, 3), None, self.stride, 1, 1, c)
        mean, var = stack([bn.running_mean for bn in bns]), stack([bn.running_var for bn in bns])
        weight, bias = stack([bn.weight for bn in bns]), stack([bn.bias for bn in bns])
        training = self.training
        y = F.batch_norm(y, mean, var, weight, bias, training, bns[0].momentum, bns[0].eps)
        if training:  # F.batch_norm updated the stacked copies: write each branch's share back
            with torch.no_grad():
                mean, var = mean.view(c, nb), var.view(c, nb)
                for i, bn in enumerate(bns):
                    bn.running_mean.copy_(mean[:, i])
                    bn.running_var.copy_(var[:, i])
                    bn.num_batches_tracked.add_(1)
        return y.unflatten(1, (c, nb)).sum(2)

    # ------------------------------------------------------------------ folding
    def _fuse_bn(self, kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
        std = (bn.running_var + bn.eps).sqrt()
        t = (bn.weight / std).reshape(-1, 1, 1, 1)
        return kernel * t, bn.bias - bn.running_mean * bn.weight / std

    def _branch_kernel(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.channels
        if name == "identity":
            k = torch.zeros(c, 1, 3, 3, device=self.branches[name].weight.device)
            k[:, 0, 1, 1] = 1.0
            return self._fuse_bn(k, self.branches[name])
        conv, bn = self.branches[name]
        kh, kw = _KERNEL[name]
        k = F.pad(conv.weight, [(3 - kw) // 2, (3 - kw) // 2, (3 - kh) // 2, (3 - kh) // 2])  # last dim (time) first
        return self._fuse_bn(k, bn)

    def branch_kernels(self) -> dict[str, torch.Tensor]:
        """Each branch's BN-folded kernel in the 3×3 grid (for the app's heatmaps)."""
        with torch.no_grad():
            return {n: self._branch_kernel(n)[0].detach().clone() for n in self.branch_names}

    def get_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        kernel, bias = 0, 0
        for name in self.branch_names:
            k, b = self._branch_kernel(name)
            kernel, bias = kernel + k, bias + b
        return kernel, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches into one depthwise 3×3 conv (+ bias as an identity BatchNorm). Idempotent."""
        if self.inference_mode:
            return
        kernel, bias = self.get_kernel_bias()
        device = kernel.device
        c = self.channels
        del self.branches
        self.inference_mode = True
        self._build_deploy(c)
        self.to(device)
        self.train(self.training)  # the new layers follow the module's mode (eval stays eval)
        self.conv.weight.copy_(kernel)
        self.bn.weight.fill_(1.0)
        self.bn.bias.copy_(bias)
        self.bn.running_mean.zero_()
        self.bn.running_var.fill_(1.0 - self.bn.eps)


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """The deployed network: every RepDepthwise folded. Deep-copies unless ``inplace``."""
    m = model if inplace else copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, RepDepthwise):
            mod.reparameterize()
    return m


def _create(width: int, n_classes: int, branches, inference_mode: bool, **cfg) -> CPMobile:
    def depthwise(ch, stride):
        return RepDepthwise(ch, stride, branches, inference_mode)

    return CPMobile(CPMobileConfig(base_channels=width, n_classes=n_classes, **cfg), depthwise=depthwise)


@register_model
def rep_mobile(
    width: int = 32,
    n_classes: int = 10,
    branches=BRANCHES,
    inference_mode: bool = False,
    channels_multiplier: float = 1.8,
    expansion_rate: float = 2.1,
    strides="dcase24",
) -> CPMobile:
    """Rep-Mobile on the DCASE24 baseline's CP-Mobile layout (multiplier 1.8, expansion 2.1, its strides).

    At width 32 the folded network has the baseline's 61,148 parameters and 29.42 M MACs at 256 × 65. The
    paper's Table I model (126K, 28.89 M MACs) is ``rep_mobile_paper``.
    """
    return _create(
        width,
        n_classes,
        tuple(branches),
        inference_mode,
        channels_multiplier=channels_multiplier,
        expansion_rate=expansion_rate,
        strides=resolve_strides(strides),
    )


@register_model
def rep_mobile_paper(
    width: int = 32, n_classes: int = 10, branches=PAPER_BRANCHES, inference_mode: bool = False, strides="dcase23"
) -> CPMobile:
    """Rep-Mobile of the paper's Table I: 126,940 params, 28.89 M MACs (2023 CP-Mobile strides, hop 512)."""
    return _create(
        width,
        n_classes,
        tuple(branches),
        inference_mode,
        channels_multiplier=2.3,
        expansion_rate=3.0,
        strides=resolve_strides(strides),
    )
