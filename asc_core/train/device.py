"""Where a run computes and in what precision — without importing Lightning (evaluation, benches and the
pruning rounds ask too)."""

from __future__ import annotations

import torch


def compute_device(accelerator: str = "auto") -> str:
    """``cuda`` when the config allows it (auto, cuda, gpu) and a GPU is present, else ``cpu``."""
    return "cuda" if accelerator in ("auto", "cuda", "gpu") and torch.cuda.is_available() else "cpu"


def training_precision(accelerator: str = "auto") -> str:
    """Lightning's precision: bf16 mixed where the GPU has it, else fp16 mixed (with loss scaling); fp32 on CPU."""
    if compute_device(accelerator) == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"
