"""Memory layout of convolutional networks: channels-last (NHWC) where it is the fast path.

oneDNN on a CPU and cuDNN on a GPU run 2-D convolutions, BatchNorm and pooling fastest on NHWC tensors; in
NCHW they insert layout conversions around each convolution. Measured on this product's students (2-core CPU,
batch 64, one Adam step, `python -m asc_core bench train`): dcase24_baseline 1.4x, Rep-Mobile 1.5x. The
numbers a network computes are the same function (different summation order only, ~1e-6).
"""

from __future__ import annotations

import torch
from torch import nn

CHANNELS_LAST = torch.channels_last


def prefers_channels_last(model: nn.Module) -> bool:
    """A network of 2-D convolutions without a layout-bound reshape (PaSST and other transformers: no)."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules()) and not getattr(model, "keeps_layout", False)


def as_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels-last memory when asked and 4-D (a batch of spectrograms), else unchanged."""
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=CHANNELS_LAST)
    return x


def to_layout(model: nn.Module, channels_last: bool) -> nn.Module:
    """The model's parameters in channels-last memory (in place, same Parameter objects), when asked."""
    if channels_last:
        model.to(memory_format=CHANNELS_LAST)
    return model
