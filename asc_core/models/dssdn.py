"""DSSDN — Deep Space Separable Distillation Network (Ye & Tian, arXiv 2405.03567; seed 003).

The paper gives no code; this module follows its captions, and says where it fills a gap:

- **Backbone (Fig. 2).** "Five basic modules DSSDB stacked together", and "channel splicing" fuses "the
  different scale information of the high-level and low-level networks processed by the five modules": the
  global average pool of each of the five blocks' outputs is concatenated, then Linear → logits.
  *Ours:* the stem (3×3 stride-2 conv, BN, ReLU), the block widths (w, w, 1.5w, 1.5w, 2w) and the 2×2 max
  pools before blocks 3 and 5 (the paper gives no figures for them).
- **Frequency cut inside each DSSDB (Fig. 2: "cutting the frequency axis").** A block cuts its input's
  frequency axis at ``split`` (default ½): the low band, where most scene information lies, takes the full
  distillation path; the high band takes one SC. The two are put back together along frequency.
- **SC (Fig. 3).** Two channel-wise (depthwise) convolutions, 3×1 over frequency and 1×3 over time, then the
  1×1 convolution that OSC regularises (Fig. 4), BatchNorm, ReLU.
- **OSC (Fig. 4).** SC whose 1×1 weight W is pulled towards orthonormal rows (or columns, whichever are fewer)
  by ‖W Wᵀ − I‖²_F; ``model.regularization_loss()`` returns ``ortho_weight`` × the sum over OSC layers and the
  trainer adds it to the loss.
- **SPC (Fig. 5).** "Inputs a portion of channels in the feature map into the separable convolution layer":
  an SC on a share (``partial``, ¼) of the channels; the others pass through untouched and are concatenated back.
- **DSSDB (low band).** x → SC → OSC → SPC; 1×1 distillation taps of x and of the first two intermediate
  features (each to C/2) are concatenated with the last operator's output and fused by 1×1 conv + BN
  (IMDN/RFDN-style distillation, which the name and Fig. 2 describe), with a residual when shapes agree.

Sizes: the paper reports Large/Middle/Small variants without their widths; ``dssdn_s`` (w 16), ``dssdn_m``
(w 24) and ``dssdn_l`` (w 32) are **our** sizes, ordered S < M < L in parameters and MACs.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from asc_core.models._registry import register_model

__all__ = ["DSSDN", "SC", "OSC", "SPC", "DSSDB"]


class SC(nn.Module):
    """Separable convolution: depthwise 3×1 (frequency) → depthwise 1×3 (time) → 1×1 → BN → ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.freq = nn.Conv2d(cin, cin, (3, 1), padding=(1, 0), groups=cin, bias=False)
        self.time = nn.Conv2d(cin, cin, (1, 3), padding=(0, 1), groups=cin, bias=False)
        self.point = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.point(self.time(self.freq(x)))))


class OSC(SC):
    """Orthonormal separable convolution: SC with an orthonormality penalty on its 1×1 weight."""

    def orthogonality_penalty(self) -> torch.Tensor:
        w = self.point.weight.flatten(1)  # [cout, cin]
        g = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w
        eye = torch.eye(g.shape[0], device=g.device, dtype=g.dtype)
        return ((g - eye) ** 2).sum()


class SPC(nn.Module):
    """Separable partial convolution: an SC on ``partial`` of the channels, the rest passed through."""

    def __init__(self, channels: int, partial: float = 0.25):
        super().__init__()
        self.n = max(1, int(round(channels * partial)))
        self.rest = channels - self.n
        self.sc = SC(self.n, self.n)

    def forward(self, x):
        a, b = torch.split(x, [self.n, self.rest], dim=1)
        return torch.cat((self.sc(a), b), dim=1)


class DSSDB(nn.Module):
    """Distillation block with the frequency cut inside: the low band takes SC → OSC → SPC with distillation
    taps, the high band one SC; both are rejoined along frequency."""

    def __init__(self, cin: int, cout: int, n_bins: int, split: float = 0.5):
        super().__init__()
        half = max(8, cout // 2)
        # the cut is fixed at construction (from the input's mel bins), so the network traces with torch.fx
        self.cut = max(1, min(n_bins - 1, int(round(n_bins * split))))
        self.op1 = SC(cin, cout)
        self.op2 = OSC(cout, cout)
        self.op3 = SPC(cout)
        self.tap0 = nn.Conv2d(cin, half, 1, bias=False)
        self.tap1 = nn.Conv2d(cout, half, 1, bias=False)
        self.tap2 = nn.Conv2d(cout, half, 1, bias=False)
        self.fuse = nn.Sequential(nn.Conv2d(3 * half + cout, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.high = SC(cin, cout)
        self.residual = cin == cout
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        lo, hi = x[:, :, : self.cut], x[:, :, self.cut :]
        y1 = self.op1(lo)
        y2 = self.op2(y1)
        y3 = self.op3(y2)
        y = self.fuse(torch.cat((self.tap0(lo), self.tap1(y1), self.tap2(y2), y3), dim=1))
        y = torch.cat((y, self.high(hi)), dim=2)
        if self.residual:
            y = y + x
        return self.act(y)


class DSSDN(nn.Module):
    # its channel splits and concatenations cost more than channels-last memory saves: 0.8-0.97x per training
    # step at widths 16-24 on a 2-core CPU (the L size gains 1.1x); it keeps NCHW
    keeps_layout = True

    def __init__(
        self, width: int = 24, n_classes: int = 10, n_mels: int = 256, split: float = 0.5, ortho_weight: float = 1e-3
    ):
        super().__init__()
        self.ortho_weight = ortho_weight
        widths = [width, width, _r8(1.5 * width), _r8(1.5 * width), 2 * width]
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        blocks, cin, bins = [], width, (n_mels - 1) // 2 + 1  # bins after the stride-2 stem
        for i, w in enumerate(widths):
            layers = [nn.MaxPool2d(2, 2)] if i in (2, 4) else []
            bins = bins // 2 if i in (2, 4) else bins
            layers.append(DSSDB(cin, w, bins, split))
            blocks.append(nn.Sequential(*layers))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(sum(widths), n_classes)

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(self.pool(x).flatten(1))
        return self.head(torch.cat(feats, dim=1))  # channel splicing of the five blocks' scales

    def regularization_loss(self) -> torch.Tensor:
        """ortho_weight × Σ over OSC layers of ‖W Wᵀ − I‖²_F (added to the training loss)."""
        total = 0.0
        for m in self.modules():
            if isinstance(m, OSC):
                total = total + m.orthogonality_penalty()
        return self.ortho_weight * total


def _r8(v: float) -> int:
    return max(8, int(round(v / 8)) * 8)


@register_model
def dssdn_s(width: int = 16, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-S: five DSSDBs at width 16 (our size; the paper gives none)."""
    return DSSDN(width, n_classes, n_mels)


@register_model
def dssdn_m(width: int = 24, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-M: five DSSDBs at width 24 (our size; the paper gives none)."""
    return DSSDN(width, n_classes, n_mels)


@register_model
def dssdn_l(width: int = 32, n_classes: int = 10, n_mels: int = 256) -> DSSDN:
    """DSSDN-L: five DSSDBs at width 32 (our size; the paper gives none)."""
    return DSSDN(width, n_classes, n_mels)
