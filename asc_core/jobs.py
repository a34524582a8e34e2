"""Background jobs: a persistent queue (huey) of experiments, executed by worker processes.

The queue (``job_queue``) lives beside the run store by default (SQLite); with ``ASC_QUEUE=redis://…``
workers on several machines share one queue. Their records then belong in one PostgreSQL store
(``ASC_STORE=postgresql://…``) and their files under one artifact root every worker reaches (``ASC_RUNS``, mounted
anywhere: a worker with a PostgreSQL store uses its own root, not the path the submitting machine wrote into the
message). Which run a worker starts for a message is ``next_run``'s.

A job is a run id: ``submit`` records the run as ``queued`` in the store, then enqueues it. The worker
re-reads the run's config from the store, so the store is the one source of truth; the queue only says
what to run next. Status changes: queued → running → done | failed | cancelled; a run whose worker
died is turned ``interrupted`` by the next reader of the store (``Store.mark_interrupted``); ``resume``
puts an interrupted/cancelled/failed run back in the queue to continue from its last checkpoint.
A worker asked to stop (Ctrl-C, SIGINT) stops its run at the next batch (its last whole epoch's checkpoint kept) and
leaves it ``interrupted`` (resumable) rather than waiting for it to finish. Asked to drain (SIGUSR1), it
finishes its run, starts no other and exits; the queued runs stay queued (``tables run --grace-s``: a lent
machine's last minutes go to finishing runs, not to starting ones it would lose).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from asc_core.job_queue import enqueue, get_queue, queue_order, queue_url, queued_run_ids, requeue_orphans, run_next
from asc_core.machine import busy
from asc_core.next_run import put_back, ready_instead, yield_to_ready
from asc_core.store import Store
from asc_core.store_backends import redact

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0


class QueueUnreachable(RuntimeError):
    """The queue (Redis, the SQLite file) could not take a job; the run is recorded as failed, resumable."""


_state = {"run_id": None, "store": None, "stopping": False}


# ---------------------------------------------------------------- what the app and the CLI call
def record(cfg, store: Store, group: str = "") -> str:
    """Record ``cfg`` (a validated ExperimentConfig) in the store as a queued run; its id."""
    return store.create_run(cfg.model_dump(mode="json"), name=cfg.name, group=group, config_hash=cfg.digest())


def group_name(n: int, label: str = "") -> str:
    """The one naming rule for a launch of ``n`` runs that was given no group name."""
    return f"grid of {n} × {label}" if n > 1 and label else (f"grid of {n}" if n > 1 else "")


def launch(configs, store: Store, group: str | None = None, label: str = "") -> list[str]:
    """The one launch path (Experiment page, ``submit``, Compare's fill-the-table): record each validated
    ExperimentConfig as a queued run of one group and put it in the queue; the run ids, in order."""
    configs = list(configs)
    group = group if group else group_name(len(configs), label)
    ids = []
    for cfg in configs:
        run_id = record(cfg, store, group)
        try:
            enqueue(store, run_id)
        except Exception as e:
            msg = f"could not be queued ({type(e).__name__}: {e}); resume it when the queue is reachable"
            store.update_run(run_id, status="failed", error=msg, finished_at=time.time())
            raise QueueUnreachable(f"run {run_id} {msg}") from None
        ids.append(run_id)
    return ids


def launch_record(configs, ids: list[str]) -> dict:
    """What a launch queued (config digests, run ids, when), for ``is_repeat``."""
    return {"digests": sorted(c.digest() for c in configs), "ids": list(ids), "at": time.time()}


def is_repeat(previous: dict | None, configs, window_s: float = 10.0) -> bool:
    """True when ``configs`` are exactly what ``previous`` launched under ``window_s`` ago: a double click on
    Launch, which must not queue the same runs twice."""
    return (
        bool(previous)
        and previous["digests"] == sorted(c.digest() for c in configs)
        and (time.time() - previous["at"] < window_s)
    )


def submit(cfg, store: Store, group: str = "") -> str:
    """One config: ``launch([cfg])``."""
    return launch([cfg], store, group)[0]


def cancel(store: Store, run_id: str) -> str:
    """A queued run is cancelled at once; a running one stops at its next batch (its last epoch's checkpoint kept)."""
    run = store.get_run(run_id)
    if run["status"] == "queued":
        store.update_run(run_id, status="cancelled", error="cancelled before it started", finished_at=time.time())
        return "cancelled"
    if run["status"] == "running":
        store.request_cancel(run_id)
        return "cancelling"
    raise ValueError(f"run {run_id} is {run['status']}; only queued or running runs can be cancelled")


def resume(store: Store, run_id: str) -> None:
    """Put an interrupted, cancelled or failed run back in the queue; it continues from its checkpoint."""
    run = store.get_run(run_id)
    if run["status"] == "queued" and run_id not in queued_run_ids(store):  # its queue message was lost
        enqueue(store, run_id, resume=bool(run["started_at"]))
        return
    if run["status"] not in ("interrupted", "cancelled", "failed"):
        raise ValueError(f"run {run_id} is {run['status']}; only interrupted, cancelled or failed runs resume")
    store.update_run(run_id, status="queued", cancel_requested=0, stage="queued to resume", error=None)
    if run_id in queued_run_ids(store):  # cancelled while queued: its message is still there and takes it, in its
        return  # place (a second one behind it was only ever skipped, with a line in the worker's log)
    enqueue(store, run_id, resume=True)


def resume_ahead(store: Store, run_ids: list[str]) -> None:
    """Resume these runs ahead of every queued one, in their order: they hold work (their checkpoints) and, for a
    pruning run stopped while training its parent, what the queued runs pruning the same parent wait for. A queue
    that cannot put a run next (Redis) takes them in the order they came."""
    for run_id in run_ids:
        resume(store, run_id)
    try:
        for run_id in reversed(run_ids):  # the last put next goes first
            run_next(store, run_id)
    except ValueError:
        pass


def retry(store: Store, run_id: str) -> str:
    """A fresh run (new id, same config and group) in the queue; the old one stays as it was."""
    from asc_core.config import parse_config

    run = store.get_run(run_id)
    return submit(parse_config(run["config"]), store, run["group_name"] or "")


def for_group(store: Store, group: str, action: str) -> dict[str, str]:
    """``cancel``, ``resume``, ``retry`` or ``next`` every run of a group it applies to (cancel: queued and running
    runs; resume and retry: failed, interrupted and cancelled ones; next: queued ones, which keep their order
    among themselves). {run id: what happened}."""
    applies = {"cancel": ("queued", "running"), "resume": ("failed", "interrupted", "cancelled"),
               "retry": ("failed", "interrupted", "cancelled"), "next": ("queued",)}[action]  # fmt: skip
    runs = [r for r in store.list_runs() if r["group_name"] == group and r["status"] in applies]
    if not group or not any(r["group_name"] == group for r in store.list_runs()):
        raise ValueError(f"no group {group!r} in the run store")
    out = {}
    if action == "next":  # the last put next goes first: put them next from the back of their order
        order = {run_id: k for k, run_id in enumerate(queue_order(store))}
        for r in sorted(runs, key=lambda r: order.get(r["run_id"], len(order)), reverse=True):
            run_next(store, r["run_id"])
            out[r["run_id"]] = "next"
        return dict(reversed(out.items()))
    for r in runs:
        if action == "cancel":
            out[r["run_id"]] = cancel(store, r["run_id"])
        elif action == "resume":
            resume(store, r["run_id"])
            out[r["run_id"]] = "queued"
        else:
            out[r["run_id"]] = f"retried as {retry(store, r['run_id'])}"
    return out


# ---------------------------------------------------------------- the task (runs inside a worker)
def _test_kill_at(window: str) -> None:
    """Tests kill the worker at an exact moment (``ASC_TEST_KILL_AT=dequeued|claimed``): a real SIGKILL."""
    if os.environ.get("ASC_TEST_KILL_AT") == window:
        os.kill(os.getpid(), signal.SIGKILL)


def execute(run_id: str, runs_root: str, resume: bool = False) -> str:
    from asc_core.config import parse_config
    from asc_core.train.runner import run_experiment

    store = Store(_state.get("shared_root") or runs_root)
    _test_kill_at("dequeued")
    run_id, resume = ready_instead(store, run_id, resume)
    worker_id = _state.get("worker_id") or f"{socket.gethostname()}-{os.getpid()}"
    if not store.claim_run(run_id, worker_id):  # cancelled while queued, or claimed by another worker
        status = store.get_run(run_id)["status"]
        log.info("run %s is %s; skipped", run_id, status)
        return status
    _test_kill_at("claimed")
    run = store.get_run(run_id)
    _state.update(run_id=run_id, store=store)
    logf = open(store.run_dir(run_id) / "log.txt", "a", buffering=1)
    handler = logging.StreamHandler(logf)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)

    def echo(msg):
        logf.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{run_id}] {msg}\n")

    try:
        echo(f"{'resuming' if resume else 'starting'} on {socket.gethostname()} (pid {os.getpid()})")
        summary = run_experiment(parse_config(run["config"]), store, run_id, resume=resume, echo=echo,
                                 yield_if=yield_to_ready(store, run_id))  # fmt: skip
        if summary["status"] == "queued":  # gave its worker back to a run that can train now
            put_back(store, run_id, resume=True)
            echo(store.get_run(run_id)["stage"])
            log.info("run %s went back to the queue: a queued run can train now, while it would wait", run_id)
            return "queued"
        if summary["status"] == "cancelled" and _state["stopping"]:
            store.update_run(run_id, status="interrupted", error="the worker was stopped; resume to continue")
            summary["status"] = "interrupted"
        if summary.get("error"):
            echo(f"error: {summary['error']}\n{store.get_run(run_id)['traceback'] or ''}")
        echo(f"finished: {summary['status']}")
        return summary["status"]
    finally:
        logging.getLogger().removeHandler(handler)
        logf.close()
        _state.update(run_id=None, store=None)


# ---------------------------------------------------------------- the worker process
def _heartbeat(store: Store, worker_id: str, stop: threading.Event):
    beats = 0
    while not stop.wait(HEARTBEAT_S):
        beats += 1
        huey = get_queue(_state["queue_url"]) if _state.get("queue_url") else None
        if huey is not None and not _queue_reachable(huey) and not _state["run_id"]:
            continue  # a worker that cannot read its queue is not one that will pick up a job
        try:
            store.worker_heartbeat(worker_id, _state["run_id"])
            if beats % 6 == 0:  # every 30 s: runs whose worker died elsewhere, queued runs in no queue
                store.mark_interrupted()
                requeue_orphans(store, url=_state.get("queue_url"))
        except Exception as e:  # a busy database or an unreachable queue must not kill the worker
            log.warning("heartbeat: %s: %s", type(e).__name__, e)


# A stop sent to a process group reaches `worker --concurrency N`'s parent and its workers, and the parent forwards
# it to them (it must, for a stop sent to it alone): each worker gets it twice within milliseconds. Taken as a second
# Ctrl-C, the repeat ended the workers at once, mid-run, their runs left "running" (a campaign's `tables run`
# stopping its workers, on an H100). Within this many seconds a repeat is the same stop.
SAME_STOP_S = 2.0


def _stop_current_run():
    """On SIGINT/SIGTERM: ask the current run to stop at its next batch (it keeps its last epoch's checkpoint)."""
    _state["stopping"] = True
    if _state["run_id"] and _state["store"]:
        _state["store"].request_cancel(_state["run_id"])


def _mark_queue_down(e: Exception) -> None:
    if not _state.get("queue_down"):
        log.warning("the queue cannot be read (%s: %s); retrying, backing off to 60 s", type(e).__name__, str(e)[:200])
        _state["queue_down"] = time.time()


def _queue_reachable(huey) -> bool:
    """A cheap look at the queue (Redis: PING); says once when it goes and when it comes back."""
    try:
        ping = getattr(getattr(huey.storage, "conn", None), "ping", None)
        ping() if callable(ping) else huey.storage.enqueued_items(1)
    except Exception as e:  # noqa: BLE001 — any failure to reach the queue is the same news
        _mark_queue_down(e)
        return False
    if _state.pop("queue_down", None):
        log.warning("the queue is reachable again")
    return True


def _consumer_parts():
    """huey's worker and scheduler loops, quiet about an unreachable queue: one line when it goes (and when it
    comes back, from the heartbeat's look), retries backing off, no heartbeats meanwhile (not counted as live).
    huey's own loops log a traceback every second, and its Redis storage answers "no job" when Redis is down."""
    from huey.consumer import Scheduler, Worker

    from asc_core.queue_codec import InvalidMessage

    class _Worker(Worker):
        def loop(self, now=None):
            if _state.get("queue_down"):
                self.delay = min(max(2 * self.delay, 1.0), 60.0)
                time.sleep(min(self.delay, HEARTBEAT_S))  # the heartbeat notices the queue's return
                return
            try:
                task = self.huey.dequeue()
            except InvalidMessage:  # named in one line by the codec; dropped
                return
            except Exception as e:
                _mark_queue_down(e)
                return
            if task is not None:
                self.delay = self.default_delay
                try:
                    self.huey.execute(task, now)
                except Exception:
                    log.exception("unhandled error in task %s", task.id)
            elif not self.huey.storage.blocking:
                self.sleep()

    class _Scheduler(Scheduler):  # jobs are never scheduled for later: only a quiet look each interval
        def loop(self, now=None):
            time.sleep(self.interval)
            if _state.get("queue_down"):
                return
            try:
                for task in self.huey.read_schedule(now):
                    self.huey.enqueue(task)
            except Exception as e:
                _mark_queue_down(e)

    return _Worker, _Scheduler


def _note_drain(num, frame):
    """SIGUSR1 before the consumer is up (a worker takes seconds to import torch): remembered, not fatal."""
    _state["drain"] = True


def _note_stop(num, frame):
    """SIGINT or SIGTERM before the consumer is up: remembered, so the consumer stops as it starts. A worker
    registers itself seconds before huey sets its handlers; a stop that came between was lost where SIGINT was
    inherited ignored (started in a script's background), and the worker ran on (a test saw it, on a slow CPU)."""
    _state["stop_early"] = True


def run_worker(runs_root: str | None = None, url: str | None = None) -> int:
    """One worker process executing one job at a time until stopped."""
    signal.signal(signal.SIGUSR1, _note_drain)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _note_stop)
    from huey.consumer import Consumer

    class _Consumer(Consumer):
        worker_class, scheduler_class = _consumer_parts()

        def _set_signal_handlers(self):
            super()._set_signal_handlers()
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(sig)

                def handler(num, frame, sig=sig, previous=previous):
                    first = _state.get("stop_signal_at")
                    if first is not None and num == signal.SIGINT:
                        if time.monotonic() - first < SAME_STOP_S:
                            return  # the same stop twice: the process group's and the parent's forward of it
                        raise KeyboardInterrupt  # a second Ctrl-C: stop now (huey's way; the last checkpoint stays)
                    _state["stop_signal_at"] = time.monotonic()
                    _stop_current_run()
                    self._received_signal, self._graceful = True, True  # wait for the run to checkpoint
                    if num == signal.SIGINT and callable(previous) and previous is not signal.default_int_handler:
                        previous(num, frame)  # huey's, which then hands SIGINT to Python's KeyboardInterrupt:
                        signal.signal(sig, handler)  # this handler keeps it, to tell a repeat from a second Ctrl-C

                signal.signal(sig, handler)

            def drain(num=None, frame=None):  # finish the run in hand, take no other
                if not _state.get("draining"):  # once: a drain sent to the group comes again from the parent
                    log.warning("asked to drain: finishing the current run, starting no other")
                _state["draining"] = True
                self._received_signal, self._graceful = True, True

            signal.signal(signal.SIGUSR1, drain)
            if _state.get("stop_early"):  # asked to stop while this worker was still starting: it stops now
                self._received_signal, self._graceful = True, True
                self.stop_flag.set()
            elif _state.get("drain"):  # asked to drain while it was starting: its threads stop before a first run
                drain()
                self.stop_flag.set()

    import asc_core.train.runner  # noqa: F401  (torch, Lightning, NNI: imported once, not on the first job)

    store = Store(runs_root)
    url = url or queue_url(store.root)
    huey = get_queue(url)
    if store.db.kind != "sqlite":  # records shared by machines: files under this machine's view of the root
        _state["shared_root"] = str(store.root)
    gone = store.mark_interrupted()
    if gone:
        log.warning("runs left running by a dead worker, now interrupted: %s", ", ".join(gone))
    worker_id = store.register_worker(redact(url))
    _state.update(worker_id=worker_id, queue_url=url)
    try:  # also the first look at the queue: unreachable, the worker does not heartbeat as live
        requeued = requeue_orphans(store, url=url)
    except Exception as e:  # the queue is down from the start: say so once; the worker's loop retries
        requeued = []
        _mark_queue_down(e)
    if requeued:
        log.warning("queued runs that were in no queue, queued again: %s", ", ".join(requeued))
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(store, worker_id, stop), daemon=True).start()
    print(f"ASC Lab worker {worker_id} on {socket.gethostname()}: queue {redact(url)}, run store {store.describe()}",
          file=sys.stderr)  # fmt: skip
    try:
        _Consumer(
            huey, workers=1, worker_type="thread", periodic=False, initial_delay=0.1, max_delay=1.0, backoff=1.15
        ).run()
    finally:
        stop.set()
        store.unregister_worker(worker_id)
    return 0


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_concurrency() -> int:
    """One worker per GPU, else one (a CPU job already uses every core)."""
    return max(1, _gpu_count())


def worker_env(i: int, n: int, gpus: int, environ, cores: int) -> dict:
    """The environment of worker ``i`` of ``n``: with GPUs, one of them (CUDA_VISIBLE_DEVICES); on a CPU, its share
    of the cores as its thread count, where the caller set none. Each of two CPU workers used every core before:
    four threads on two cores ran two Rep-Mobile-32 trainings at 59 clips/s each, one thread each at 139 (bare
    step, batch 64, this 2-core machine)."""
    env = dict(environ)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
    elif n > 1 and "OMP_NUM_THREADS" not in env:
        threads = str(max(1, cores // n))
        env |= {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    return env


def run_workers(n: int, runs_root: str | None = None, url: str | None = None) -> int:
    """``n`` worker processes; with GPUs each sees one (CUDA_VISIBLE_DEVICES), on a CPU each takes its share of the
    cores (``worker_env``)."""
    if n <= 1:
        return run_worker(runs_root, url)
    gpus = _gpu_count()
    procs, asked = [], []

    # A stop (SIGINT, SIGTERM) or a drain (SIGUSR1) sent to this process alone is theirs: sent to the group, they have
    # it already, and once more within SAME_STOP_S is the same stop. Set here, not left to Python's defaults: started
    # in the background of a script, this process inherits SIGINT ignored (`kill -INT` did nothing), and SIGTERM's
    # default ended it alone, its workers left training with no parent. Set before they start, so a stop that comes
    # while they start is not lost (and they do not inherit SIGINT ignored).
    def forward(num, frame):
        asked.append(num)
        for p in procs:
            if p.poll() is None:
                p.send_signal(num)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, forward)
    for i in range(n):
        if any(num != signal.SIGUSR1 for num in asked):
            break  # stopped while starting them: no more start (those started have the stop)
        env = worker_env(i, n, gpus, os.environ, os.cpu_count() or 1)
        cmd = [sys.executable, "-m", "asc_core", "worker", "--concurrency", "1"]
        cmd += ["--runs", str(runs_root)] if runs_root else []
        cmd += ["--queue", url] if url else []
        procs.append(subprocess.Popen(cmd, env=env))
    for p in procs:
        p.wait()
    return max((p.returncode or 0 for p in procs), default=0)


def log_tail(store: Store, run_id: str, lines: int = 200) -> str:
    """The last ``lines`` lines of a run's log (empty if it has none yet)."""
    path = store.root / run_id / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 200 * lines))
        text = f.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def progress_text(run: dict) -> str:
    """'student training · epoch 3 · step 120 · 47 % · ETA 2 min 10 s' for a running run."""
    parts = [run.get("stage") or run["status"]]
    if run.get("epoch") is not None:
        parts.append(f"epoch {run['epoch'] + 1}")
    if run.get("step") is not None:
        parts.append(f"step {run['step']}")
    parts.append(f"{100 * (run.get('progress') or 0):.0f} %")
    if run.get("eta_s") is not None:
        m, s = divmod(int(run["eta_s"]), 60)
        parts.append(f"ETA {m} min {s:02d} s" if m else f"ETA {s} s")
    return " · ".join(parts)


def run_progress_text(run: dict) -> str:
    """'whole run 45 % · about 3 min 10 s left' (stages weighted by their estimated cost), or ''."""
    if run.get("run_progress") is None:
        return ""
    text = f"whole run {100 * run['run_progress']:.0f} %"
    if run.get("run_eta_s") is not None:
        m, s = divmod(int(run["run_eta_s"]), 60)
        text += f" · about {m} min {s:02d} s left" if m else f" · about {s} s left"
    return text


def time_text(summary: dict) -> str:
    """'417 s of training' for a finished run, '+ 460 s waiting for another run's teacher or parent' when it waited,
    and how much of its threads' CPU time it got when other work slowed it (``machine.busy``)."""
    text = f"{summary.get('seconds') or 0:.0f} s of training"
    if (summary.get("waited_s") or 0) >= 1:
        text += f" (+ {summary['waited_s']:.0f} s waiting for another run's teacher or parent)"
    if busy(summary):
        text += (
            f", on a busy CPU: it got {100 * summary['cpu_share']:.0f} % of its {summary.get('threads', '')} "
            "thread(s)' time, so it was slower than this machine trains"
        )
    return text
