"""Peak resident memory per stage of a run (Linux: VmHWM, reset between stages through /proc/self/clear_refs).

A worker must fit in a laptop's memory; the run's record says what each stage (teacher training, student training,
pruning round, device fine-tuning, evaluation) took at its peak, so a memory problem names its stage.

Two modes. *Fast* (the default; the Makefile keeps glibc's freed heap, ``mmap_max=0``, which is what makes CPU
training ~2x faster here, and pays for it in fragmentation). *Low* (``ASC_LOW_MEMORY=1``; ``make app`` picks it on
machines with under 16 GB, ``LOW_MEMORY=1`` asks for it): glibc maps every block over 1 MB on its own and returns
it when freed (``mmap_threshold`` fixed, on transparent huge pages, so few page faults), and CP-Mobile blocks
recompute their activations in the backward pass instead of keeping them (bit-exact; ``models/recompute.py``).
Both modes give the heap back between stages (``release``).
"""

from __future__ import annotations

import os
import resource
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")
# The environment of a process in each mode (the Makefile sets the same for the app's worker; GLIBC_TUNABLES is read
# when a process starts, so a mode is chosen per process). Fast: glibc keeps its heap; low: every block over 1 MB
# mapped on its own and returned when freed, on transparent huge pages.
MODE_ENV = {
    "fast": {
        "GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184",
        "ASC_LOW_MEMORY": "0",
    },
    "low": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576", "ASC_LOW_MEMORY": "1"},
}
_CLEAR = Path("/proc/self/clear_refs")


def _status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status in MB (None where there is no /proc)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """This process's peak resident memory since the last ``reset_peak`` (or since it started), in MB."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # lifetime peak


def release() -> bool:
    """Collect reference cycles (a finished Trainer's), then give the heap's free pages back to the system (glibc
    ``malloc_trim(0)``), e.g. between the stages of a run.

    A stage's activations are freed when it ends, but glibc keeps the pages — all of them with the Makefile's
    fast setting (``mmap_max=0``, a huge trim threshold), the fragmented middle of the heap with its default —
    so the next stage would start from the last one's peak. Releasing once per stage costs a few page faults
    in the next one. False where there is no glibc."""
    import gc

    gc.collect()
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


@contextmanager
def older_objects_frozen():
    """Within it, the garbage collector leaves alone every object that existed before (``gc.freeze``): the
    modules, torch, the app's or the test session's state. A run's ``release`` between stages, and the automatic
    collections while it trains, then scan only what the run made, which is all they can free: on the `tiny` set a
    full collection was 0.36-0.42 s a stage, a fifth of a run's time. Everything is unfrozen when it ends, so a
    cycle left over from before is collected then, not kept."""
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def rss_mb() -> float:
    """This process's resident memory now, in MB (0 where /proc is missing)."""
    return _status_mb("VmRSS") or 0.0


def reset_peak() -> bool:
    """Start a new peak (Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS). False elsewhere."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def low_memory() -> bool:
    """``ASC_LOW_MEMORY`` set (not 0): trade speed for memory (see the module's text)."""
    return os.environ.get("ASC_LOW_MEMORY", "") not in ("", "0")


def memory_mode() -> str:
    return "low" if low_memory() else "fast"


def fit_memory(model):
    """In low-memory mode, layers that can recompute their activations on the CPU do (CP-Mobile's ``Block``)."""
    if low_memory():
        for m in model.modules():
            if hasattr(m, "recompute"):
                m.recompute = "cpu"
    return model
