"""``tables plan | queue | run | collect | render | directions | lead``: the seeds' Tables II–V and device fine-tuning,
run through the normal queue, kept as docs/results/*.csv and rendered into docs/RESULTS.md (``asc_core.tables``
plans the runs, ``table_record`` keeps their results, ``table_report`` writes the page); ``directions`` sets each
row's gain beside the paper's (``asc_core.paper_results``); ``lead`` whether Table IV's students follow their teachers
(``asc_core.teacher_lead``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from asc_core.cli._common import _emit, _emit_lead, _records


def _plan(a):
    from asc_core import tables

    which = [t.strip() for t in a.tables.split(",")] if a.tables else list(tables.TABLES)
    subsets = tuple(int(s) for s in a.subsets.split(",")) if a.subsets else tables.TABLE_SUBSETS
    return tables.plan(which, subsets, a.seeds, a.dataset)


def cmd_tables(a) -> int:
    from asc_core import jobs, table_record, table_report, tables
    from asc_core.store import Store

    if a.results:
        table_record.RESULTS_DIR = Path(a.results)  # e.g. a trial on a small set, kept out of docs/results
    if a.action == "directions":
        return _directions(a)
    if a.action == "lead":
        return _lead(a)
    if a.action in ("plan", "queue", "run") and not _dataset_ready(a):
        return 2
    store = Store(a.runs)
    items = _plan(a)
    if a.action == "plan":
        return _plan_report(a, store, items)
    todo = table_record.missing(items, store)
    if a.action in ("queue", "run"):
        stopped = table_record.interrupted(items, store)
        jobs.resume_ahead(store, [r["run_id"] for r in stopped])  # from their checkpoints, first
        if todo:
            jobs.launch([i["config"] for i in todo], store, group="paper tables")
        print(
            f"queued {len(todo)} runs and resumed {len(stopped)} interrupted ones, of {len(tables.runs_of(items))} "
            "planned (the rest are recorded or already queued, running or done in the store)",
            file=sys.stderr,
        )
    if a.action == "run":
        _run_workers(store, items, a.workers, a.budget_s, a.grace_s)
    if a.action in ("collect", "run"):
        n = table_record.collect(store, items)
        print(f"{n} new result rows in {table_record.RESULTS_DIR}", file=sys.stderr)
    written = a.action in ("collect", "render", "run")
    if written:
        table_report.render(table_record.RESULTS_DIR.parent / "RESULTS.md")
    stand = {k: len(v) for k, v in table_record.standing(items, store).items()}  # after the command, not before
    planned = len(tables.runs_of(items))
    _emit(
        {
            "planned": planned,
            "recorded": stand["recorded"],
            "in_store": stand["in the store"],
            "to_run": stand["to run"],
        },
        a.json,
        f"{stand['recorded']} of {planned} planned runs recorded, {stand['in the store']} in the store, "
        f"{stand['to run']} to run"
        + (f"; {table_record.RESULTS_DIR.parent / 'RESULTS.md'} written" if written else ""),
    )
    return 0


def _dataset_ready(a) -> bool:
    """Before anything is queued: the data the runs read must be there. The embedded standard set (the default) is
    made here when its folder is missing, as `make app` makes the mini one — before, a fresh machine's `tables run`
    queued 30 runs that all failed in their first second. A folder named with --dataset is never made or replaced:
    one that does not open stops the command with the reason. An embedded set of an older generator is left as it
    is (a campaign may be reading it); the plan says which version its runs will be on."""
    from asc_core.cli._common import _bar
    from asc_core.data import open_dataset
    from asc_core.data.errors import DatasetError
    from asc_core.embedded.synth import dataset_tag, generate
    from asc_core.paths import data_home

    root = Path(a.dataset) if a.dataset else data_home() / "standard"
    if not a.dataset and not root.exists() and a.action != "plan":
        print(f"{root}: the embedded standard set is not here yet; generating it (a few minutes) ...", file=sys.stderr)
        generate("standard", 0, root, progress=_bar("standard: recordings"))
    try:
        open_dataset(root)
    except DatasetError as e:
        if a.action == "plan" and not a.dataset:
            print(f"{root} is not here yet: `tables queue` or `tables run` generates it first", file=sys.stderr)
            return True
        print(f"error: {e}", file=sys.stderr)
        return False
    print(f"data: {root} ({dataset_tag(root)})", file=sys.stderr)
    return True


def _plan_report(a, store, items) -> int:
    """Each planned run not yet recorded, with where it stands and an estimate, and the time left on this machine:
    runs queued or running in the store count too (a campaign under way is not "nothing to do")."""
    from asc_core import table_record, tables
    from asc_core.grid import fmt_duration, plan, plan_wall
    from asc_core.speeds import rates_source
    from asc_core.train.device import compute_device

    stand = table_record.standing(items, store)
    left = [(i, state) for state in ("in the store", "to run") for i in stand[state]]
    try:
        each = plan([i["config"] for i, _ in left], store, a.workers) if left else []
    except (ValueError, FileNotFoundError) as e:  # the dataset is not generated yet: no estimate
        print(f"no estimate: {e}", file=sys.stderr)
        each = [{"estimate_s": 0, "after": []}] * len(left)
    runs = [{**{k: i[k] for k in ("table", "row", "subset", "seed")}, "state": state,
             "estimate_s": round(e["estimate_s"] * (1 - _done_part(i.get("run")))), "after": e["after"]}
            for (i, state), e in zip(left, each)]  # fmt: skip
    counts = {state: len(v) for state, v in stand.items()}
    est = {state: sum(r["estimate_s"] for r in runs if r["state"] == state) for state in ("in the store", "to run")}
    out = {"planned": len(tables.runs_of(items)), **{k.replace(" ", "_"): v for k, v in counts.items()},
           "estimate_s": sum(est.values()), "runs": runs}  # fmt: skip
    for r, (i, _) in zip(runs, left):  # a run in the store says what it is doing: queued, running, done
        r["status"] = i["run"]["status"] if "run" in i else "to run"
    lines = [
        f"Table {r['table']:6s} {r['row']:45s} {r['subset']:3d} %  seed {r['seed']}  {r['status']:11s}  "
        + ("done, not collected yet" if r["status"] == "done" else
           f"~{fmt_duration(r['estimate_s']) if r['estimate_s'] else '?'}"
           + ("  (`tables queue` resumes it from its checkpoint)" if r["status"] == "interrupted" else ""))
        for r in runs
    ]  # fmt: skip

    def about(state: str) -> str:  # no estimate (the data is not there yet) is not "about 0 s"
        return f"about {fmt_duration(est[state])}" if est[state] or not counts[state] else "no estimate yet"

    lines.append(
        f"{counts['recorded']} of {out['planned']} runs recorded; {counts['in the store']} queued, running, "
        f"interrupted or done in {store.root} ({about('in the store')} of training left on this machine); "
        f"{counts['to run']} to queue ({about('to run')})"
    )
    if a.workers > 1 and out["estimate_s"]:  # the sum above is the runs' own times, one after another
        out["wall_s"] = round(plan_wall(runs, a.workers))
        lines.append(
            f"with {a.workers} workers, about {fmt_duration(out['wall_s'])} of wall time (each run costed at its "
            f"speed with {a.workers} training at once: on a CPU they share the cores, on GPUs each has its own; a "
            "run starts once the runs training its teacher or pruning parent have finished)"
        )
    if counts["in the store"] or counts["to run"]:
        out["rates"] = rates_source(compute_device(left[0][0]["config"].accelerator if left else "auto"))
        lines.append(f"Times from this store's finished runs of the same network, else {out['rates']}.")
    _emit(out, a.json, "\n".join(lines))
    return 0


def _done_part(run: dict | None) -> float:
    """How much of a run in the store is behind it: 1 when done; its progress when it is running or queued to resume
    (it goes on from its checkpoint); 0 for a fresh one."""
    if not run:
        return 0.0
    if run["status"] == "done":
        return 1.0
    return min(max(float(run.get("run_progress") or 0.0), 0.0), 1.0) if run.get("started_at") else 0.0


def _directions(a) -> int:
    """Each table's gains over its first row beside the paper's, with the verdict (``paper_results.directions``)."""
    from asc_core import paper_results, table_record, tables

    results = table_record.results_frame()
    which = [t.strip() for t in a.tables.split(",")] if a.tables else [t for t in tables.TABLES if t != "device"]
    frames = {t: paper_results.directions(t, results) for t in which}
    text = "\n\n".join(f"Table {t}\n{paper_results.directions_text(t, results) or 'nothing recorded yet'}"
                        for t in which)  # fmt: skip
    records = {t: _records(f) for t, f in frames.items()}
    _emit(records, a.json, text)
    return 0


def _lead(a) -> int:
    """Table IV's seed pairs: each KD run's gain over its seed's *no KD* run against its best teacher's lead."""
    from asc_core import table_record, teacher_lead

    pairs = teacher_lead.lead_pairs(table_record.results_frame())
    _emit_lead(pairs, a.json, False, "Table IV has no KD run beside a no-KD run of its seed yet")
    return 0


def _wait_until_up(store, proc, workers: int, limit_s: float = 60) -> None:
    """Until the ``workers`` processes of ``proc``'s group have registered in the store (each then takes a drain
    as one, not as the default action of SIGUSR1, which ends a process), or ``limit_s`` has passed."""
    import os
    import socket

    def up() -> int:
        n = 0
        for w in store.live_workers():
            if w["host"] != socket.gethostname():  # another machine's, on a shared store
                continue
            try:
                n += os.getpgid(w["pid"]) == proc.pid
            except (ProcessLookupError, PermissionError):  # gone since
                pass
        return n

    t0 = time.time()
    while up() < workers and time.time() - t0 < limit_s and proc.poll() is None:
        time.sleep(0.5)


CHECK_S = 15.0  # `tables run`: how often it collects the finished runs into the CSVs and says where it is


def _run_workers(store, items, workers: int, budget_s: float, grace_s: float = 0) -> None:
    """Workers until every planned run has finished (or the time budget is spent), collecting as runs land. With
    ``grace_s``, once the budget is spent the workers drain: they finish the runs in hand, for up to ``grace_s``
    more, and start no other (on a lent machine that goes back bare, a run stopped mid-way is lost)."""
    import os
    import signal
    import subprocess

    from asc_core import table_record

    def stop(signum, frame):  # the workers are stopped in `finally`, their runs checkpointed
        raise KeyboardInterrupt

    # Ctrl-C and `kill` alike; SIGINT even where it was ignored (a command started with `nohup … &` from a script
    # ignores it, and once kept training after it had been told to stop)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    cmd = [sys.executable, "-m", "asc_core", "worker", "--concurrency", str(workers), "--runs", str(store.root)]
    # its own process group, output to the log: at the end every worker process is signalled and none keeps
    # this command's stdout open (a worker's child outliving its parent once held a pipeline open for minutes)
    log = open(store.root / "tables-workers.log", "a")
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=log, stderr=log)
    t0 = time.time()
    draining, deadline = False, budget_s
    try:
        while time.time() - t0 < deadline or (grace_s > 0 and not draining):
            if not draining and grace_s > 0 and time.time() - t0 + CHECK_S >= budget_s:
                time.sleep(max(0.0, budget_s - (time.time() - t0)))
                _wait_until_up(store, proc, workers)  # a worker still importing torch would die of SIGUSR1
                os.killpg(proc.pid, signal.SIGUSR1)  # every worker of the group: finish the run in hand, no other
                draining, deadline = True, budget_s + grace_s
                print(f"[{time.time() - t0:.0f} s] the budget is spent: the runs in hand finish (up to {grace_s:.0f} s "
                      "more), no other starts", file=sys.stderr)  # fmt: skip
            try:  # a check every CHECK_S, or at once when the workers end (drained, or stopped from outside)
                proc.wait(CHECK_S)
            except subprocess.TimeoutExpired:
                pass
            ended = proc.poll() is not None  # asked before the store is read: what it says is then their last word
            open_runs = [r for r in store.list_runs() if r["status"] in ("queued", "running")]
            try:
                table_record.collect(store, items)
                collected = True
            except Exception as e:  # noqa: BLE001 — bookkeeping: the runs go on (their results stay in the store)
                print(f"collect failed, tried again at the next check: {type(e).__name__}: {e}", file=sys.stderr)
                collected = False
            running = sum(r["status"] == "running" for r in open_runs)
            print(f"[{time.time() - t0:.0f} s] {running} running, {len(open_runs) - running} queued", file=sys.stderr)
            if not open_runs and collected:  # done when the last runs are in the CSVs too
                break
            if ended:  # drained, or stopped from outside: the queued runs stay queued for the next workers
                print(f"the workers ended (status {proc.returncode}); {len(open_runs)} runs left in the queue",
                      file=sys.stderr)  # fmt: skip
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:  # the group is gone where the workers ended on their own (drained, or stopped from outside)
            os.killpg(proc.pid, signal.SIGINT)  # running jobs checkpoint at their next batch and stay resumable
            proc.wait(60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # a stage without a cancel point: interrupted, resumable
        proc.wait()
        log.close()


def register(sub) -> None:
    t = sub.add_parser("tables", help="the seeds' Tables II-V and device fine-tuning, run and rendered")
    t.add_argument(
        "action",
        choices=["plan", "queue", "run", "collect", "render", "directions", "lead"],
        help="directions: each row's gain over the table's first row beside the paper's, with a verdict; lead: "
        "Table IV's students' gain over their seed's no-KD run against their best teacher's lead over it",
    )
    t.add_argument("--tables", default="", help="e.g. II,V (default: II,III,IV,V,device)")
    t.add_argument("--subsets", default="", help="e.g. 5,25,100 (the default)")
    t.add_argument("--seeds", type=int, default=2)
    t.add_argument("--dataset", default=None, help="default: the embedded standard set in the data home")
    t.add_argument("--workers", type=int, default=1,
                   help="run: worker processes; plan: each run's time and the wall time with as many")  # fmt: skip
    t.add_argument("--budget-s", type=float, default=10**9, help="run: stop the workers after this many seconds")
    t.add_argument(
        "--grace-s",
        type=float,
        default=0,
        help="run: after the budget, let the runs in hand finish for up to this long, starting no other",
    )
    t.epilog = (
        "run plans once, at its start, with the rows its code has then: after adding a row, `tables queue` "
        "queues its runs (the workers take them) and `tables collect` records them, or restart `tables run`."
    )
    t.add_argument("--results", default=None, help="CSV folder (default docs/results; RESULTS.md goes beside it)")
    t.add_argument("--runs", default=None)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tables)
