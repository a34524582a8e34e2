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


# A CPU run whose process got less than this share of its threads' time shared its cores with other work. Measured on
# the 2-core AMD EPYC (28 Nov 2026, a `tiny` student run of 4 epochs): one thread beside one other training, 0.92-0.93;
# two threads beside two trainings (one on each core), 0.48-0.49.
BUSY_SHARE = 0.8


def cpu_share(cpu_s: float, wall_s: float, threads: int) -> float | None:
    """The CPU time a process got (``time.process_time``, all its threads) over ``wall_s`` seconds, as a share of
    what its ``threads`` (torch's intra-op threads) could have had: about 1 alone on cores of its own, less when it
    shared them. None for no time."""
    return round(cpu_s / (wall_s * max(1, threads)), 2) if wall_s > 0 else None


def busy(summary: dict) -> bool:
    """A finished CPU run that got under ``BUSY_SHARE`` of its threads' time (``summary["cpu_share"]``; runs before
    28 Nov 2026 did not record it, nor do runs on a GPU or with loader workers)."""
    share = summary.get("cpu_share")
    return share is not None and share < BUSY_SHARE
