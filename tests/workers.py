"""Helpers of the tests that run real worker processes: a config, a worker started as a user starts one, waiting
for a condition, stopping a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cfg_dict(root, epochs=2, slow=False, **over):
    """``slow``: the whole training split in batches of 4, so a cancel or a kill lands mid-run."""
    d = {
        "dataset": str(root),
        "subset": 100 if slow else 25,
        "student": {"name": "dcase24_baseline", "width": 16},
        "optim": {
            "epochs": epochs,
            "batch_size": 4 if slow else 16,
            "lr": 0.005,
            "warmup_epochs": 0,
            "validate_every": 1000,
        },
        "accelerator": "cpu",
        "name": "job test",
    }
    return d | over


def start_worker(runs: Path, queue: str | None = None, concurrency: int = 1, **env_extra) -> subprocess.Popen:
    """``concurrency`` > 1: `worker --concurrency N`, a parent and N workers, in a process group of their own (as
    `tables run` starts them); ``kill_group`` ends what is left of it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **env_extra)
    cmd = [sys.executable, "-m", "asc_core", "worker", "--runs", str(runs)] + (["--queue", queue] if queue else [])
    cmd += ["--concurrency", str(concurrency)] if concurrency > 1 else []
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=concurrency > 1)  # fmt: skip


def kill_group(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)


def wait_for(pred, timeout=240, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
