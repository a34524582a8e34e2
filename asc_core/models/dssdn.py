"""DSSDN — Deep Space Separable Distillation Network (Ye & Tian, arXiv 2405.03567).

The paper gives no code; this is our reading of each operator, from its text and the authors' DCASE2023
predecessor (DSMN):

- **High/low frequency split.** The log-mel [B, 1, F, T] is cut at ``split_bin`` (default F/2). The low
  band (where most scene information lives) takes the full path; the high band takes a cheap path:
  average-pooled 2× in frequency and processed by a narrower stack with half the channels.
- **SC (separable convolution).** Depthwise (3,1) over frequency, then depthwise (1,3) over time, then a
  1×1 pointwise conv, BatchNorm, ReLU.
- **OSC (orthonormal separable convolution).** SC whose 1×1 weight W is pulled towards orthonormal rows
  (or columns, whichever is fewer) by the penalty ‖W Wᵀ − I‖²_F. The penalties of all OSC layers, times
  ``ortho_weight``, are returned by ``model.regularization_loss()``; the trainer adds it to the loss.
- **SPC (separable partial convolution).** A separable 3×3 conv (depthwise + pointwise) on a fraction
  ``partial`` (¼) of the channels; the rest pass through untouched and are concatenated back
  (FasterNet's partial convolution applied to a separable conv).
- **DSSDB (distillation block).** x → SC → OSC → SPC in sequence; 1×1 "distillation" taps of x and of
  the first two intermediate features (each to C/2) are concatenated with the last operator's output
  and fused by a 1×1 conv + BN + ReLU back to C_out, with a residual when shapes agree (IMDN/RFDN style).
- **Multi-scale head.** Global average pools of every stage of the low path and of the high path are
  concatenated, then Linear → logits.

Variants keep S < M < L in parameters and MACs: S (width 24, blocks 1-1-1), M (width 32, blocks 1-2-1),
L (width 40, blocks 2-2-2). ``width`` scales any variant.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from asc_core.models._registry import register_model

__all__ = ["DSSDN", "SC", "OSC", "SPC", "DSSDB"]


class SC(nn.Module):
    def __init__(self, cin: int, cout: int, stride=(1, 1)):
        super().__init__()
        self.freq = nn.Conv2d(cin, cin, (3, 1), (stride[0], 1), padding=(1, 0), groups=cin, bias=False)
        self.time = nn.Conv2d(cin, cin, (1, 3), (1, stride[1]), padding=(0, 1), groups=cin, bias=False)
        self.point = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.point(self.time(self.freq(x)))))


class OSC(SC):
    def orthogonality_penalty(self) -> torch.Tensor:
        w = self.point.weight.flatten(1)  # [cout, cin]
        g = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w
        eye = torch.eye(g.shape[0], device=g.device, dtype=g.dtype)
        return ((g - eye) ** 2).sum()


class SPC(nn.Module):
    def __init__(self, channels: int, partial: float = 0.25):
        super().__init__()
        self.n = max(1, int(round(channels * partial)))
        self.rest = channels - self.n
        self.dw = nn.Conv2d(self.n, self.n, 3, padding=1, groups=self.n, bias=False)
        self.pw = nn.Conv2d(self.n, self.n, 1, bias=False)
        self.bn = nn.BatchNorm2d(self.n)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        a, b = torch.split(x, [self.n, self.rest], dim=1)
        return torch.cat((self.act(self.bn(self.pw(self.dw(a)))), b), dim=1)


class DSSDB(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        half = max(8, cout // 2)
        self.op1 = SC(cin, cout)
        self.op2 = OSC(cout, cout)
        self.op3 = SPC(cout)
        self.tap0 = nn.Conv2d(cin, half, 1, bias=False)
        self.tap1 = nn.Conv2d(cout, half, 1, bias=False)
        self.tap2 = nn.Conv2d(cout, half, 1, bias=False)
        self.fuse = nn.Sequential(nn.Conv2d(3 * half + cout, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = cin == cout
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y1 = self.op1(x)
        y2 = self.op2(y1)
        y3 = self.op3(y2)
        y = self.fuse(torch.cat((self.tap0(x), self.tap1(y1), self.tap2(y2), y3), dim=1))
        if self.residual:
            y = y + x
        return self.act(y)


def _path(cin: int, widths: list[int], blocks: list[int]) -> nn.ModuleList:
    stages = []
    for w, n in zip(widths, blocks):
        layers = [nn.MaxPool2d(2, 2)] if stages else []
        for _ in range(n):
            layers.append(DSSDB(cin, w))
            cin = w
        stages.append(nn.Sequential(*layers))
    return nn.ModuleList(stages)


class DSSDN(nn.Module):
    def __init__(self, width: int = 32, blocks=(1, 2, 1), n_mels: int = 256, split_bin: int | None = None,
                 n_classes: int = 10, ortho_weight: float = 1e-3):
        super().__init__()
        self.split_bin = split_bin or n_mels // 2
        self.high_bins = n_mels - self.split_bin
        self.ortho_weight = ortho_weight
        widths = [width, int(width * 1.5) // 8 * 8, 2 * width]
        hw = [max(8, w // 2) for w in widths]
        self.low_stem = nn.Sequential(nn.Conv2d(1, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.high_stem = nn.Sequential(nn.AvgPool2d((2, 1)), nn.Conv2d(1, hw[0], 3, 2, 1, bias=False),
                                       nn.BatchNorm2d(hw[0]), nn.ReLU(inplace=True))
        self.low = _path(width, widths, list(blocks))
        self.high = _path(hw[0], hw, [1] * len(blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(sum(widths) + hw[-1], n_classes)

    def forward(self, x):
        lo = self.low_stem(x[:, :, : self.split_bin])
        hi = self.high_stem(x[:, :, self.split_bin:])
        feats = []
        for stage in self.low:
            lo = stage(lo)
            feats.append(self.pool(lo).flatten(1))
        for stage in self.high:
            hi = stage(hi)
        feats.append(self.pool(hi).flatten(1))
        return self.head(torch.cat(feats, dim=1))

    def regularization_loss(self) -> torch.Tensor:
        """ortho_weight × Σ over OSC layers of ‖W Wᵀ − I‖²_F (added to the training loss)."""
        total = 0.0
        for m in self.modules():
            if isinstance(m, OSC):
                total = total + m.orthogonality_penalty()
        return self.ortho_weight * total


@register_model
def dssdn_s(width: int = 24, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-S: width 24, one DSSDB per stage."""
    return DSSDN(width, (1, 1, 1), n_mels, n_classes=n_classes)


@register_model
def dssdn_m(width: int = 32, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-M: width 32, blocks 1-2-1."""
    return DSSDN(width, (1, 2, 1), n_mels, n_classes=n_classes)


@register_model
def dssdn_l(width: int = 40, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-L: width 40, blocks 2-2-2."""
    return DSSDN(width, (2, 2, 2), n_mels, n_classes=n_classes)
