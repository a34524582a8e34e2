"""CP-Mobile (Schmid et al., DCASE2023) and the simplified CP-Mobile of the DCASE2024/2025 baseline.

Inverted-bottleneck blocks (1×1 expansion → 3×3 depthwise with the block's stride → 1×1 linear
projection), a residual only where input and output channels agree (AvgPool2d(3, stride) when
strided), ReLU after the addition; the 2023 version adds a scalar GRN before that ReLU. Stem: two
3×3 stride-2 conv-BN-ReLU (1 → base/4 → base). Head: 1×1 conv to classes, BN, global average pool.

``dcase24_baseline`` (base 32, multiplier 1.8, expansion 2.1, blocks (3,2,1), strides b2 (1,1),
b3 (1,2), b4 (2,1)) has exactly 61,148 parameters and 29,419,156 MACs at 256 × 65.

Strides are per block (numbered globally b1..b6, unlisted blocks (1, 1)); ``STRIDES`` names the two layouts
of the reference code: ``dcase24`` (the DCASE2024/2025 baseline) and ``dcase23`` (CP-JKU's 2023 CP-Mobile,
b2 (2,2), b4 (2,1), the layout of the Rep-Mobile paper's 126K model). Every CP-Mobile-family model takes
``strides=`` as one of these names or a mapping like ``{"b2": [2, 2], "b4": [2, 1]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from asc_core.models._registry import register_model
from asc_core.models.recompute import can_recompute, recomputed

__all__ = ["CPMobileConfig", "CPMobile", "make_divisible", "STRIDES", "resolve_strides"]

STRIDES = {
    "dcase24": {"b2": (1, 1), "b3": (1, 2), "b4": (2, 1)},  # CPJKU/dcase2024_task1_baseline models/baseline.py
    "dcase23": {"b2": (2, 2), "b4": (2, 1)},  # fschmid56/cpjku_dcase23 models/cp_mobile_clean.py
}


def resolve_strides(strides) -> dict:
    """A stride layout by name (``STRIDES``) or as a mapping ``{"bN": (freq, time)}``, checked and normalised."""
    if isinstance(strides, str):
        if strides not in STRIDES:
            raise ValueError(
                f"unknown stride layout {strides!r}; allowed: {', '.join(STRIDES)} or a mapping like "
                "{'b2': [2, 2], 'b4': [2, 1]}"
            )
        return dict(STRIDES[strides])
    if not isinstance(strides, dict):
        raise ValueError(f"strides must be a layout name ({', '.join(STRIDES)}) or a mapping, got {strides!r}")
    out = {}
    for k, v in strides.items():
        v = tuple(v) if isinstance(v, (list, tuple)) else (v, v)
        if (
            not (isinstance(k, str) and k.startswith("b") and k[1:].isdigit())
            or len(v) != 2
            or not all(isinstance(x, int) and 1 <= x <= 4 for x in v)
        ):
            raise ValueError(f"strides: {k!r}: {strides[k]!r} is not a block name bN with a (freq, time) stride of 1–4")
        out[k] = v
    return out


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """MobileNet's channel rounding (as in the CP-JKU code)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn(cin: int, cout: int, k: int = 3, stride=1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class GRN(nn.Module):
    """Global Response Normalisation with scalar γ, β (identity at init), as in CP-Mobile 2023."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Block(nn.Module):
    """CP-Mobile block. ``depthwise`` builds the 3×3 depthwise stage (Rep-Mobile swaps it)."""

    def __init__(self, cin: int, cout: int, expansion: float, stride=(1, 1), grn: bool = False, depthwise=None):
        super().__init__()
        exp = make_divisible(cin * expansion, 8)
        self.exp_conv = conv_bn(cin, exp, 1)
        self.depth_conv = depthwise(exp, stride) if depthwise else conv_bn(exp, exp, 3, stride, groups=exp)
        self.proj_conv = conv_bn(exp, cout, 1, act=False)
        stride = tuple(stride) if isinstance(stride, (tuple, list)) else (stride, stride)
        if cin == cout:
            self.shortcut = nn.Identity() if stride == (1, 1) else nn.AvgPool2d(3, stride, padding=1)
        else:
            self.shortcut = None
        self.grn = GRN() if grn else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    # Recompute the block's activations in the backward pass, keeping only its input ("never", "cpu", "always";
    # ``asc_core.models.recompute``: bit-exact, BatchNorm statistics updated once). Low-memory mode turns it on.
    recompute = "never"

    def forward(self, x):
        if can_recompute(self, x):
            return recomputed(self, self._forward, x)
        return self._forward(x)

    def _forward(self, x):
        y = self.proj_conv(self.depth_conv(self.exp_conv(x)))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.act(self.grn(y))


@dataclass
class CPMobileConfig:
    base_channels: int = 32
    channels_multiplier: float = 1.8
    expansion_rate: float = 2.1
    n_blocks: tuple[int, ...] = (3, 2, 1)
    strides: dict = field(default_factory=lambda: dict(STRIDES["dcase24"]))
    grn: bool = False
    n_classes: int = 10
    in_channels: int = 1


class CPMobile(nn.Module):
    def __init__(self, cfg: CPMobileConfig, depthwise=None, stem=None):
        super().__init__()
        stem = stem or (lambda cin, cout: conv_bn(cin, cout, 3, 2))
        self.cfg = cfg
        base = make_divisible(cfg.base_channels, 8)
        chans = [base] + [
            make_divisible(cfg.base_channels * cfg.channels_multiplier**i, 8) for i in range(len(cfg.n_blocks))
        ]
        self.in_c = nn.Sequential(stem(cfg.in_channels, base // 4), stem(base // 4, base))
        stages, b, cin = [], 0, chans[0]
        for s, n in enumerate(cfg.n_blocks):
            blocks = []
            for _ in range(n):
                b += 1
                blocks.append(
                    Block(cin, chans[s + 1], cfg.expansion_rate, cfg.strides.get(f"b{b}", (1, 1)), cfg.grn, depthwise)
                )
                cin = chans[s + 1]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(cin, cfg.n_classes, 1, bias=False), nn.BatchNorm2d(cfg.n_classes), nn.AdaptiveAvgPool2d((1, 1))
        )
        self.apply(_init)

    def embed(self, x):
        return self.stages(self.in_c(x))

    def forward(self, x):
        return self.feed_forward(self.embed(x)).flatten(1)


def _init(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _create(width: int, n_classes: int = 10, strides="dcase24", **overrides) -> CPMobile:
    return CPMobile(
        CPMobileConfig(base_channels=width, n_classes=n_classes, strides=resolve_strides(strides), **overrides)
    )


@register_model
def dcase24_baseline(width: int = 32, n_classes: int = 10) -> CPMobile:
    """Simplified CP-Mobile of the DCASE2024/2025 Task 1 baseline (61,148 params at width 32)."""
    return _create(width, n_classes)


@register_model
def cp_mobile(
    width: int = 32,
    n_classes: int = 10,
    channels_multiplier: float = 2.3,
    expansion_rate: float = 3.0,
    strides="dcase23",
    grn: bool = True,
) -> CPMobile:
    """CP-JKU DCASE23 CP-Mobile with GRN (2023 strides b2 (2,2), b4 (2,1); 126,952 params at width 32)."""
    return _create(
        width, n_classes, strides, channels_multiplier=channels_multiplier, expansion_rate=expansion_rate, grn=grn
    )
