"""SSCP-Mobile (DCASE2024/2025 technical reports): CP-Mobile with every 3×3 convolution replaced by a
fused pair of a 3×1 (frequency) and a 1×3 (time) convolution — a rank-1 factorisation of the 3×3
kernel with no normalisation between the two, followed by one BatchNorm (and ReLU).
The stride of the 3×3 is split: frequency stride on the 3×1, time stride on the 1×3.
"""

from __future__ import annotations

import torch.nn as nn

from asc_core.models._registry import register_model
from asc_core.models.cp_mobile import CPMobile, CPMobileConfig, resolve_strides

__all__ = ["sep_pair"]


def sep_pair(cin: int, cout: int, stride=(1, 1), groups: int = 1) -> nn.Sequential:
    stride = tuple(stride) if isinstance(stride, (tuple, list)) else (stride, stride)
    return nn.Sequential(
        nn.Conv2d(cin, cout, (3, 1), (stride[0], 1), padding=(1, 0), groups=groups, bias=False),
        nn.Conv2d(cout, cout, (1, 3), (1, stride[1]), padding=(0, 1), groups=cout, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


@register_model
def sscp_mobile(
    width: int = 32,
    n_classes: int = 10,
    channels_multiplier: float = 1.8,
    expansion_rate: float = 2.1,
    strides="dcase24",
) -> CPMobile:
    """SSCP-Mobile on the DCASE24 baseline layout (multiplier 1.8, expansion 2.1, its strides)."""
    cfg = CPMobileConfig(
        base_channels=width,
        n_classes=n_classes,
        channels_multiplier=channels_multiplier,
        expansion_rate=expansion_rate,
        strides=resolve_strides(strides),
    )
    return CPMobile(
        cfg,
        depthwise=lambda ch, stride: sep_pair(ch, ch, stride, groups=ch),
        stem=lambda cin, cout: sep_pair(cin, cout, (2, 2)),
    )
