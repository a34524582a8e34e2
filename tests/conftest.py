"""Shared fixtures: the embedded `tiny` dataset (generated once per session) and a real-split TAU22 root."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent  # the project
os.environ.setdefault("ASC_CACHE", str(ROOT / ".cache" / "test"))
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # `make test` runs files in parallel: share the cores, don't
    # oversubscribe them (OpenMP's spinning threads of two processes on one core slow both), before torch loads
    _cores = len(os.sched_getaffinity(0))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))


def run_cli(*args, timeout: int = 300, env_extra: dict | None = None):
    """``python -m asc_core ARGS`` in a subprocess (what a user types), output captured."""
    import subprocess
    import sys

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "asc_core", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def student_config(root, width: int = 16, **over) -> dict:
    """A student-only run on the `tiny` dataset: Rep-Mobile of ``width``, one epoch, CPU."""
    cfg = {"dataset": str(root), "subset": 25, "student": {"name": "rep_mobile", "width": width},
           "optim": {"epochs": 1, "batch_size": 16, "validate_every": 100}, "accelerator": "cpu"}  # fmt: skip
    return cfg | over


def finished_run(store, cfg: dict, acc: float, teacher_acc: list[float] | None = None, status: str = "done") -> str:
    """A finished run of ``cfg`` in a real store, with the figures a run records (its accuracy, its teachers' own)."""
    from asc_core.config import parse_config

    c = parse_config(cfg)
    run_id = store.create_run(c.model_dump(mode="json"), name=c.name, status=status, config_hash=c.digest())
    if status == "done":
        summary = {"macro_accuracy": acc, "teachers": [t.model.name for t in c.teachers]}
        store.update_run(run_id, summary=summary | {"teacher_accuracy": teacher_acc or []}, stage="done", progress=1.0)
    return run_id


def tiny_config(root, **over) -> dict:
    """A small experiment on the `tiny` dataset (passt_tiny teacher → dcase24_baseline-16 student), CPU."""
    cfg = {
        "dataset": str(root),
        "subset": 25,
        "student": {"name": "dcase24_baseline", "width": 16},
        "teachers": [{"model": {"name": "passt_tiny"}, "optim": {"epochs": 1, "batch_size": 32, "lr": 0.001}}],
        "kd": {"lam": 0.1, "tau": 2.0, "views": 2},
        "optim": {"epochs": 2, "batch_size": 16, "lr": 0.005, "warmup_epochs": 0.5},
        "accelerator": "cpu",
    }
    cfg.update(over)
    return cfg


def made_once(tmp_path_factory, name: str, make):
    """``make(folder)`` once for the whole session, whatever the number of test processes (`make test` runs one
    a core, each with its own session fixtures): the first process to get here makes it in a folder they all
    share, holding a file lock; the others wait for it. Returns (the folder, what ``make`` returned, through JSON).
    Only for what the tests read, not change."""
    import fcntl
    import json

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # pytest-of-USER/pytest-N: the run's folder, above each process's own
    folder, done = shared / f"shared-{name}", shared / f"shared-{name}.json"
    with open(shared / f"shared-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if its holder dies
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a half-made one from a process that died making it
            folder.mkdir()
            done.write_text(json.dumps(make(folder)))
        return folder, json.loads(done.read_text())


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    from asc_core.embedded.synth import generate

    return Path(made_once(tmp_path_factory, "tiny", lambda d: str(generate("tiny", 0, d / "tiny")))[1])


@pytest.fixture(scope="session")
def tau22_root(tmp_path_factory) -> Path:
    """meta.csv and the official DCASE2024 split files, no audio (tests write placeholder clips)."""
    from asc_core.data.download import install_split_files
    from asc_core.paths import TAU22_ASSETS

    root = tmp_path_factory.mktemp("tau22") / "TAU-urban-acoustic-scenes-2022-mobile-development"
    root.mkdir()
    with gzip.open(TAU22_ASSETS / "meta.csv.gz", "rb") as f, open(root / "meta.csv", "wb") as g:
        shutil.copyfileobj(f, g)
    install_split_files(root)
    (root / "audio").mkdir()
    return root


@pytest.fixture(scope="session")
def progressive_run(tiny_root, tmp_path_factory):
    """One real progressive-pruning run on `tiny` (rep_mobile 32 → 24 → 16), shared by the tests that
    need a pruned run, in every test process: (store, summary)."""
    from asc_core.config import parse_config
    from asc_core.store import Store
    from asc_core.train.runner import run_experiment

    cfg = {
        "dataset": str(tiny_root),
        "subset": 25,
        "student": {"name": "rep_mobile", "width": 32},
        "optim": {"epochs": 1, "batch_size": 16, "validate_every": 100},
        "accelerator": "cpu",
        "name": "progressive",
        "pruning": {
            "mode": "progressive",
            "chain": [24, 16],
            "total_times": 2,
            "schedule_epochs": 1,
            "finetune_epochs": 1,
        },
    }

    def train(folder):
        return run_experiment(parse_config(cfg), Store(folder / "runs"))

    folder, summary = made_once(tmp_path_factory, "progressive", train)
    return Store(folder / "runs"), summary


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def copy_dataset(src: Path, dst: Path) -> Path:
    """A writable copy of a dataset folder for tests that break it."""
    shutil.copytree(src, dst)
    return dst


class PlantedPickle:
    """Unpickling this runs ``touch marker``: what an attacker would plant in a queue or a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (skips, saying why, where none can start)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    from tests.pg_server import PostgresServer, PostgresUnavailable

    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as e:
        server.stop()
        pytest.skip(str(e))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.database()
