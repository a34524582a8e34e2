"""Where a run computes and in what precision — without importing Lightning (evaluation, benches and the
pruning rounds ask too)."""

from __future__ import annotations

import os

# A GPU torch could use shows one of these device nodes (NVIDIA's driver; AMD's ROCm; WSL2's GPU): without one, a
# run is on the CPU, and a command that only plans need not import torch (2.5 s on a 2-core CPU) to learn it.
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def compute_device(accelerator: str = "auto") -> str:
    """``cuda`` when the config allows it (auto, cuda, gpu) and a GPU is present, else ``cpu``."""
    if accelerator not in ("auto", "cuda", "gpu") or not any(map(os.path.exists, _GPU_NODES)):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def training_precision(accelerator: str = "auto") -> str:
    """Lightning's precision: bf16 mixed where the GPU has it, else fp16 mixed (with loss scaling); fp32 on CPU."""
    if compute_device(accelerator) == "cuda":
        import torch

        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"
