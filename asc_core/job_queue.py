"""The job queue's messages: where the queue is, putting a run in it, and the order the workers take runs in.

The queue lives beside the run store by default (``sqlite:///<runs>/queue.db``, huey's SqliteHuey);
``ASC_QUEUE=redis://host:6379/0`` (or ``--queue``) switches to huey's RedisHuey so workers on several
machines share one queue. A message is a run id (JSON, ``queue_codec``, never a pickle); the store holds the run.
Only the SQLite queue has priorities, so only there can a run be put next (``run_next``).
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

from asc_core.store import Store, runs_home
from asc_core.store_backends import redact

_last_next = [0.0]  # the last priority run_next gave, kept strictly rising within this process


def queue_url(runs_root: str | Path | None = None) -> str:
    """``$ASC_QUEUE``, else an SQLite queue in the run store folder."""
    return os.environ.get("ASC_QUEUE") or f"sqlite:///{Path(runs_root or runs_home()).resolve() / 'queue.db'}"


@lru_cache(maxsize=None)
def get_queue(url: str):
    """A huey instance for ``url`` with the job task registered (``task`` attribute). Messages are JSON data
    (``queue_codec``), never pickles."""
    from asc_core.queue_codec import TASK_NAME, JsonMessages

    if url.startswith("redis://") or url.startswith("rediss://") or url.startswith("unix://"):
        from huey import RedisHuey

        huey = RedisHuey("asc-lab", url=url, results=False, serializer=JsonMessages())
    elif url.startswith("sqlite:///"):
        from huey import SqliteHuey

        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey("asc-lab", filename=str(path), results=False, serializer=JsonMessages())
    else:
        raise ValueError(f"queue URL must start with sqlite:/// or redis://, got {redact(url)!r}")
    from asc_core.jobs import execute  # the task a worker runs for each message

    huey.task_fn = huey.task(name=TASK_NAME, context=False)(execute)
    return huey


def enqueue(store: Store, run_id: str, resume: bool = False, url: str | None = None, priority: float | None = None):
    """One message for ``run_id`` (``priority``: ahead of the messages with a lower one; SQLite only)."""
    get_queue(url or queue_url(store.root)).task_fn(run_id, str(store.root.resolve()), resume, priority=priority)


def queue_length(store: Store) -> int:
    return get_queue(queue_url(store.root)).pending_count()


def queued_run_ids(store: Store, url: str | None = None) -> set[str]:
    """The run ids of the messages waiting in the queue (messages that are not jobs are ignored here)."""
    return set(queue_order(store, url))


def queue_order(store: Store, url: str | None = None) -> list[str]:
    """The run ids in the order the workers will take them (a run with two messages: where the first is)."""
    from asc_core.queue_codec import InvalidMessage, parse_message

    ids = []
    for raw in get_queue(url or queue_url(store.root)).storage.enqueued_items():
        try:
            ids.append(parse_message(raw).args[0])
        except InvalidMessage:
            pass
    return list(dict.fromkeys(ids))


def in_queue_order(store: Store, queued: list[dict]) -> tuple[list[dict], bool]:
    """(``queued`` runs in the order the workers will take them, whether the queue can put one next). A run in no
    message goes last (``requeue_orphans`` gives it one); an unreachable queue leaves the store's order."""
    try:
        huey = get_queue(queue_url(store.root))
        order = {run_id: k for k, run_id in enumerate(queue_order(store))}
        can_reorder = bool(huey.storage.priority)
    except Exception:  # noqa: BLE001 — the page shows the runs either way; the worker reports the queue's state
        return queued, False
    return sorted(queued, key=lambda r: order.get(r["run_id"], len(order))), can_reorder


def run_next(store: Store, run_id: str, url: str | None = None) -> None:
    """A queued run goes ahead of every other queued run (and of any put next before it): one more message, at a
    higher priority than any before; the one it had is skipped when a worker reaches it (one worker claims a run).
    A long campaign in the queue need not hold back the run someone wants to see now."""
    run = store.get_run(run_id)
    if run["status"] != "queued":
        raise ValueError(f"run {run_id} is {run['status']}; only a queued run can be put next")
    huey = get_queue(url or queue_url(store.root))
    if not huey.storage.priority:
        raise ValueError("this queue (Redis, huey's RedisHuey) takes runs in the order they came; it cannot put one "
                         "next — cancel the runs ahead of it instead")  # fmt: skip
    # the wall clock, kept strictly rising within this process (two calls in one clock tick keep their order)
    priority = _last_next[0] = max(time.time(), _last_next[0] + 1e-3)
    enqueue(store, run_id, resume=bool(run["started_at"]), url=url, priority=priority)


def requeue_orphans(store: Store, grace_s: float = 30.0, url: str | None = None) -> list[str]:
    """Queued runs that are in no queue message (their worker died between taking the message and claiming the
    run, or enqueueing failed) are queued again. A duplicate message is harmless: only one worker claims a run."""
    pending = queued_run_ids(store, url)
    now = time.time()
    orphans = [r["run_id"] for r in store.list_runs("queued")
               if r["run_id"] not in pending and now - (r["updated_at"] or 0) > grace_s]  # fmt: skip
    for run_id in orphans:
        store.update_run(run_id, stage="queued again (its queue message was lost)")
        enqueue(store, run_id, resume=bool(store.get_run(run_id)["started_at"]), url=url)
    return orphans
