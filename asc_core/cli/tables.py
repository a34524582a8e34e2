"""``tables plan | queue | run | collect | render``: the seeds' Tables II–V and device fine-tuning, run through the
normal queue, kept as docs/results/*.csv and rendered into docs/RESULTS.md (``asc_core.tables``)."""

from __future__ import annotations

import sys
import time

from asc_core.cli._common import _emit


def _plan(a):
    from asc_core import tables

    which = [t.strip() for t in a.tables.split(",")] if a.tables else list(tables.TABLES)
    subsets = tuple(int(s) for s in a.subsets.split(",")) if a.subsets else tables.TABLE_SUBSETS
    return tables.plan(which, subsets, a.seeds, a.dataset)


def cmd_tables(a) -> int:
    from asc_core import jobs, tables
    from asc_core.grid import fmt_duration, plan
    from asc_core.store import Store

    store = Store(a.runs)
    items = _plan(a)
    todo = tables.missing(items, store)
    if a.action == "plan":
        est = sum(e["estimate_s"] for e in plan([i["config"] for i in todo], store)) if todo else 0
        runs = [{k: i[k] for k in ("table", "row", "subset", "seed")} for i in todo]
        out = {"planned": len(items), "to_run": len(todo), "estimate_s": est, "runs": runs}
        text = "\n".join(
            f"Table {r['table']:6s} {r['row']:45s} {r['subset']:3d} %  seed {r['seed']}" for r in out["runs"]
        )
        _emit(out, a.json, f"{text}\n{len(todo)} of {len(items)} runs to do, about {fmt_duration(est)} on this machine")
        return 0
    if a.action in ("queue", "run") and todo:
        jobs.launch([i["config"] for i in todo], store, group="paper tables")
        print(f"queued {len(todo)} runs of {len(items)} (the rest are recorded)", file=sys.stderr)
    if a.action == "run":
        _run_workers(store, items, a.workers, a.budget_s)
    if a.action in ("collect", "run"):
        n = tables.collect(store, items)
        print(f"{n} new result rows in {tables.RESULTS_DIR}", file=sys.stderr)
    if a.action in ("collect", "render", "run"):
        tables.render(tables.RESULTS_DIR.parent / "RESULTS.md")
    _emit({"planned": len(items), "to_run": len(todo)}, a.json, f"{len(items)} planned, {len(todo)} were missing")
    return 0


def _run_workers(store, items, workers: int, budget_s: float) -> None:
    """Workers until every planned run has finished (or the time budget is spent), collecting as runs land."""
    import subprocess

    from asc_core import tables

    cmd = [sys.executable, "-m", "asc_core", "worker", "--concurrency", str(workers), "--runs", str(store.root)]
    proc = subprocess.Popen(cmd)
    t0 = time.time()
    try:
        while time.time() - t0 < budget_s:
            time.sleep(15)
            open_runs = [r for r in store.list_runs() if r["status"] in ("queued", "running")]
            tables.collect(store, items)
            print(f"[{time.time() - t0:.0f} s] {len(open_runs)} runs queued or running", file=sys.stderr)
            if not open_runs:
                break
    finally:
        proc.send_signal(2)  # SIGINT: running jobs checkpoint and stay resumable
        proc.wait(300)


def register(sub) -> None:
    t = sub.add_parser("tables", help="the seeds' Tables II-V and device fine-tuning, run and rendered")
    t.add_argument("action", choices=["plan", "queue", "run", "collect", "render"])
    t.add_argument("--tables", default="", help="e.g. II,V (default: II,III,IV,V,device)")
    t.add_argument("--subsets", default="", help="e.g. 5,25,100 (the default)")
    t.add_argument("--seeds", type=int, default=2)
    t.add_argument("--dataset", default=None, help="default: the embedded standard set in the data home")
    t.add_argument("--workers", type=int, default=1, help="run: worker processes")
    t.add_argument("--budget-s", type=float, default=10**9, help="run: stop the workers after this many seconds")
    t.add_argument("--runs", default=None)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tables)
