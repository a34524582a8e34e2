"""`bench train`'s shared-CPU figure: the training loop's clips/s in each of N processes training at once, each with
the threads a worker of ``worker --concurrency N`` gets (``jobs.worker_env``), beside the same loop alone.

A tables campaign runs two workers on a CPU; the app runs one. What each of two runs gets is not half of one run
alone (on the 2-core CPU here, 0.61 of it at width 32 and 0.60 at 96, each on one thread), and it may differ with
the width on another machine, so `bench train` measures it at two widths and the duration estimates read it
(``asc_core.speeds``).

Each process is this module run as a script: it opens the data, takes the loop's three warm-up steps, says
``ASC-READY`` and waits for a line on its stdin, so that every process's clock starts with all of them past their
start-up (importing torch and Lightning, loading the features) and training.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

READY, RESULT = "ASC-READY", "ASC-RESULT "


def shared_loop_rates(
    root: Path, name: str, width: int, workers: int, steps: int, kwargs: dict | None = None
) -> list[float]:
    """Clips/s of each of ``workers`` training loops (``bench_train.loop_step``, cached features) run at once on
    this CPU, each with its worker's share of the threads. ``kwargs``: the network's own (Table II's ``branches``),
    passed to the loops as JSON."""
    from asc_core.jobs import worker_env

    cores = os.cpu_count() or 1
    procs, logs = [], []
    cmd = [sys.executable, "-m", __name__, str(root), name, str(width), str(steps), json.dumps(kwargs or {})]
    try:
        for i in range(workers):
            log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads while they train could fill and block
            env = worker_env(i, workers, 0, os.environ, cores)
            procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          text=True))  # fmt: skip
            logs.append(log)
        for p, log in zip(procs, logs):
            _read_until(p, log, READY)
        for p in procs:  # all are past their warm-up steps: start every clock together
            p.stdin.write("go\n")
            p.stdin.flush()
        return [json.loads(_read_until(p, log, RESULT))["clips_per_s"] for p, log in zip(procs, logs)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for log in logs:
            log.close()


def _read_until(p: subprocess.Popen, log, marker: str) -> str:
    """The rest of the first stdout line of ``p`` that starts with ``marker``; a process that ends first fails
    with the end of what it wrote to stderr."""
    for line in p.stdout:
        if line.startswith(marker):
            return line[len(marker) :].strip()
    p.wait()
    log.seek(0)
    raise RuntimeError(f"a shared-CPU bench loop ended (exit {p.returncode}) before {marker.strip()}:\n"
                       f"{log.read()[-2000:]}")  # fmt: skip


def _child(root: str, name: str, width: str, steps: str, kwargs: str = "{}") -> None:
    from asc_core.data import open_dataset
    from asc_core.devtools.bench_train import loop_step

    def wait_for_all():
        print(READY, flush=True)
        sys.stdin.readline()

    rate = loop_step(open_dataset(root), name, int(width), "cached", int(steps), on_start=wait_for_all,
                     kwargs=json.loads(kwargs))  # fmt: skip
    print(RESULT + json.dumps({"clips_per_s": rate}), flush=True)


if __name__ == "__main__":
    _child(*sys.argv[1:6])
