"""``python -m asc_core bench memory``: peak resident memory and speed of a training step in each memory mode.

Each measurement runs in a fresh process (glibc reads its settings when a process starts, and a peak is only a
peak from a clean start) with the mode's environment (``asc_core.memory.MODE_ENV``): the bare training step of
``bench train`` (forward, backward, Adam; batch 64, the product's layout), its peak resident memory and clips/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

NETWORKS = [("dcase24_baseline", 32), ("rep_mobile", 32), ("rep_mobile", 64), ("rep_mobile", 96)]


def _child(name: str, width: int, steps: int) -> None:
    from asc_core.devtools.bench_train import bare_step
    from asc_core.memory import peak_mb

    rate = bare_step(name, width, steps)
    print(json.dumps({"clips_s": rate, "peak_mb": peak_mb()}))


def measure(name: str, width: int, mode: str, steps: int) -> dict:
    from asc_core.memory import MODE_ENV

    env = dict(os.environ, **MODE_ENV[mode])
    cmd = [sys.executable, "-m", "asc_core.devtools.bench_memory", name, str(width), str(steps)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"bench memory: {name}-{width} in {mode} mode failed: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_memory(quick: bool = False) -> dict:
    from asc_core.devtools.bench import _machine
    from asc_core.memory import MODE_ENV

    networks = NETWORKS[1:2] if quick else NETWORKS
    steps = 1 if quick else 5
    rows = []
    for name, width in networks:
        row = {"network": f"{name}-{width}", "batch": 64}
        for mode in MODE_ENV:
            m = measure(name, width, mode, steps)
            row[f"{mode}: peak MB"] = round(m["peak_mb"])
            row[f"{mode}: clips/s"] = round(m["clips_s"], 1)
        rows.append(row)
    return {"bench": "memory", "machine": _machine(), "rows": rows}


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
