"""CP-ResNet (Koutini et al., "Receptive field regularization techniques for audio classification and
tagging with deep convolutional neural networks"), as used as a 128K teacher by CP-JKU (DCASE23).

A ResNet whose receptive field is limited by ρ: above a per-layer threshold a 3×3 kernel becomes 1×1
(``extra = ρ − 4``; with ρ = 8: stage 1 (3,1),(3,3); stage 2 (3,3); stage 3 (3,1)). Stem: 5×5 stride-2
conv; stage 1 has max-pooling (2×2 first, then frequency-only 2×1) between its blocks; head: 1×1 conv
to classes, BN, global average pool. Channels [w, 2w, 4w − 36] (cut_channels_s3 = 36), stage-2 groups 2.
"""

from __future__ import annotations

import torch.nn as nn

from asc_core.models._registry import register_model

__all__ = ["CPResNet", "rho_kernels"]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, k1, k2, groups=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k1, padding=k1 // 2, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, k2, padding=k2 // 2, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Identity()
            if cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, groups=groups, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.shortcut(x))


def rho_kernels(rho: int) -> list[list[tuple[int, int]]]:
    """(k1, k2) per block per stage for receptive-field parameter ρ (CP-JKU's thresholds)."""
    e = rho - 4
    return [
        [(3, 1), (3, 3 - (-e > 1) * 2)],
        [(3 - (-e > 0) * 2, 1 + (e > 0) * 2)],
        [(1 + (e > 3) * 2, 1 + (e > 4) * 2)],
    ]


class CPResNet(nn.Module):
    def __init__(self, width: int = 32, rho: int = 8, n_classes: int = 10, cut_channels_s3: int = 36):
        super().__init__()
        chans = [width, 2 * width, max(8, 4 * width - cut_channels_s3)]
        groups = [1, 2, 1]
        self.in_c = nn.Sequential(
            nn.Conv2d(1, width, 5, 2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        kernels = rho_kernels(rho)
        layers, cin = [], width
        for s, (c, g) in enumerate(zip(chans, groups)):
            for b, (k1, k2) in enumerate(kernels[s]):
                if s == 0:
                    layers.append(nn.MaxPool2d(2, 2) if b == 0 else nn.MaxPool2d((2, 1), (2, 1)))
                layers.append(BasicBlock(cin, c, k1, k2, g))
                cin = c
        self.stages = nn.Sequential(*layers)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(cin, n_classes, 1, bias=False), nn.BatchNorm2d(n_classes), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def embed(self, x):
        return self.stages(self.in_c(x))

    def forward(self, x):
        return self.feed_forward(self.embed(x)).flatten(1)


@register_model
def cp_resnet(width: int = 32, n_classes: int = 10, rho: int = 8) -> CPResNet:
    """CP-ResNet with receptive-field parameter ρ (default 8; 128K parameters at width 32)."""
    return CPResNet(width, rho, n_classes)
