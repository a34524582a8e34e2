"""What this machine is, in words kept with results and benches: its CPU's model (runs and benches on two CPUs of
the same core count differ by several times: Table V's width-96 students at 5 % trained at 10 clips/s each on a 2-core
AMD EPYC with AVX2, two at once, where the estimates, measured on the 2-core CPU this product was developed on,
expected 32, and took 57 min where the same runs took 16 there) and its cores or GPU."""

from __future__ import annotations

import os
import platform
from functools import cache


@cache
def cpu_name() -> str:
    """The CPU's model as the kernel names it (``model name`` in /proc/cpuinfo), else the platform's word for it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe() -> str:
    """'host (GPU name)' with CUDA, else 'host (CPU model, N cores)': the results CSVs' ``machine``."""
    import torch

    if torch.cuda.is_available():
        return f"{platform.node()} ({torch.cuda.get_device_name(0)})"
    return f"{platform.node()} ({cpu_name()}, {os.cpu_count()} cores)"
