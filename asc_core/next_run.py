"""Which run a worker starts for the message it took: a run that would wait for a teacher or a pruning parent that
another run is training goes behind the queued runs that can start now (``ready_instead``)."""

from __future__ import annotations

import logging

from asc_core.job_queue import enqueue, queue_order, run_next
from asc_core.store import Store

log = logging.getLogger(__name__)

# How far down the queue a worker looks for a run that can start now (each look reads a config and the zoo).
LOOKAHEAD = 50


def waiting_for(store: Store, run: dict, memo: dict | None = None) -> str | None:
    """The lock a queued run would wait on if it started now: a teacher or a pruning parent that another run is
    training (``zoo.pending_locks``, held by someone); None when it would train at once. A config or dataset that
    cannot be read says None: the run starts, and fails with its own message."""
    from asc_core.config import parse_config
    from asc_core.data import open_dataset_cached
    from asc_core.paths import default_dataset_root
    from asc_core.zoo import pending_locks

    try:
        cfg = parse_config(run["config"])
        if not cfg.teachers and cfg.pruning.mode == "none":
            return None
        ds = open_dataset_cached(str(cfg.dataset or default_dataset_root()))
        return next((name for name in pending_locks(cfg, ds, store, memo) if store.held(name)), None)
    except Exception as e:  # noqa: BLE001 — a probe: the run itself reports what is wrong with it
        log.info("could not tell whether run %s would wait (%s: %s)", run.get("run_id"), type(e).__name__, e)
        return None


def startable(store: Store, skip: str | None = None, memo: dict | None = None) -> dict | None:
    """The first queued run near the head of the queue (``LOOKAHEAD``) that would train at once, other than
    ``skip``; None when every one would wait (or none is queued)."""
    memo = {} if memo is None else memo  # teacher keys, computed once for all the runs looked at
    for other in queue_order(store)[:LOOKAHEAD]:
        r = store.get_run(other) if other != skip else None
        if r and r["status"] == "queued" and waiting_for(store, r, memo) is None:
            return r
    return None


def _waits_on(lock: str) -> str:
    from asc_core.zoo import teacher_lock

    return "its teacher" if lock.startswith(teacher_lock("")) else "its pruning parent"


def put_back(store: Store, run_id: str, resume: bool) -> None:
    """``run_id`` (queued) to the head of the queue; on a queue that cannot put a run first (Redis), to its back."""
    try:
        run_next(store, run_id)
    except ValueError:  # a queue without priorities
        enqueue(store, run_id, resume=resume)


def ready_instead(store: Store, run_id: str, resume: bool) -> tuple[str, bool]:
    """The run this worker starts for the message of ``run_id``. A run that would wait for a teacher or a pruning
    parent another run is training (single 96→32 while its width-96 run trains) would hold this worker idle for
    as long; when a queued run behind it can start now, the worker takes that one, and ``run_id`` goes back to the
    head of the queue (on a queue that cannot put a run first, Redis: to its back), where the next free worker
    looks at it again. When every queued run would wait, it starts and waits, as before (and ``yield_to_ready``
    hands its worker over once one can start)."""
    run = store.get_run(run_id)
    if not run or run["status"] != "queued":
        return run_id, resume
    memo: dict = {}
    lock = waiting_for(store, run, memo)
    if lock is None:
        return run_id, resume
    r = startable(store, skip=run_id, memo=memo)
    if r is None:
        return run_id, resume
    put_back(store, run_id, resume)
    log.info("run %s would wait (%s is held by another run); started %s first", run_id, lock, r["run_id"])
    store.update_run(run_id, stage=f"{_waits_on(lock)} is training in another run: runs behind it that can start "
                     "now go first")  # fmt: skip
    return r["run_id"], bool(r["started_at"])


def yield_to_ready(store: Store, run_id: str):
    """For a run already waiting on a lock (it started when the lock was free, or when nothing else could start):
    a check, called while it waits, whether a queued run could train at once instead. The worker then puts this run
    back in the queue (``Deferred``) and starts that one, rather than sit idle until the lock is let go — a width-96
    parent at 5 % is an hour of a 2-core CPU."""

    memo: dict = {}  # the queued runs' teacher keys, computed once for the whole wait, not every YIELD_CHECK_S

    def check() -> bool:
        return startable(store, skip=run_id, memo=memo) is not None

    return check
