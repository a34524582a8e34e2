"""``bench store``: the run store's latency per operation the worker and the pages make, on SQLite (a temporary
folder) and on ``$ASC_STORE`` when it is PostgreSQL (a scratch schema-less run set, removed afterwards)."""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np


def _timed(fn, repeats: int) -> float:
    """Median milliseconds of ``fn()`` over ``repeats`` calls."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(out), 2)


def _ops(store, n_runs: int, repeats: int, created: list[str]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    preds = [(f"audio/c{i}.wav", "a", "lyon", int(i % 10), int(rng.integers(10)), rng.dirichlet(np.ones(10)).tolist())
             for i in range(900)]  # fmt: skip
    ids = [store.create_run({"seed": i}, name=f"bench {i}", group="bench store") for i in range(n_runs)]
    created.extend(ids)
    run_id = ids[0]
    step, values = iter(range(10**9)), {"loss": 1.0, "acc": 0.5, "lr": 1e-3, "kd": 0.2}
    res = {
        "create a run": _timed(
            lambda: _add(ids, created, store.create_run({"seed": 0}, name="b", group="bench store")), repeats
        ),
        "claim a run (conditional update)": _timed(lambda: store.claim_run(ids.pop(), "bench-worker"), repeats),
        "update progress (one write)": _timed(lambda: store.update_run(run_id, progress=0.5, epoch=1), repeats),
        "log one step's metrics (4 values)": _timed(
            lambda: store.log_metrics(run_id, "student", 1, next(step), values), repeats
        ),
        "worker heartbeat": _timed(lambda: store.worker_heartbeat("bench-worker", run_id), repeats),
        "read a run": _timed(lambda: store.get_run(run_id), repeats),
        f"list {n_runs} runs": _timed(lambda: store.list_runs(), repeats),
        "save 900 predictions": _timed(lambda: store.save_predictions(run_id, "general", preds), max(3, repeats // 10)),
        "read 900 predictions": _timed(lambda: store.predictions(run_id), max(3, repeats // 10)),
        "read a run's metrics": _timed(lambda: store.metrics(run_id), repeats),
    }
    return res


def _add(ids: list, created: list, run_id: str) -> None:
    ids.append(run_id)
    created.append(run_id)


def bench_store(quick: bool = False) -> dict:
    from asc_core.devtools.bench import _machine
    from asc_core.store import Store
    from asc_core.store_backends import open_database

    n_runs, repeats = (20, 10) if quick else (200, 50)
    stores = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores["SQLite (WAL, local disk)"] = _ops(Store(tmp, url=""), n_runs, repeats, [])
        if open_database(tmp).kind == "postgresql":  # $ASC_STORE: measured beside its runs, then tidied up
            store, created = Store(tmp), []
            try:
                stores[f"PostgreSQL ({store.db.describe()})"] = _ops(store, n_runs, repeats, created)
            finally:
                with store.tx() as con:
                    for table in ("metrics", "predictions", "runs"):
                        con.executemany(f"DELETE FROM {table} WHERE run_id=?", [(i,) for i in created])
    names = list(stores)
    rows = [{"operation": op, **{f"{n} ms": stores[n][op] for n in names}} for op in stores[names[0]]]
    return {"bench": "store", "machine": _machine(), "rows": rows}
