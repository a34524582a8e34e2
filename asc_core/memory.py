"""Peak resident memory per stage of a run (Linux: VmHWM, reset between stages through /proc/self/clear_refs).

A worker must fit in a laptop's memory; the run's record says what each stage (teacher training, student training,
pruning round, device fine-tuning, evaluation) took at its peak, so a memory problem names its stage.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def peak_mb() -> float:
    """This process's peak resident memory since the last ``reset_peak`` (or since it started), in MB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the lifetime peak


def reset_peak() -> bool:
    """Start a new peak (Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS). False elsewhere."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False
