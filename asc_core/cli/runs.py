"""``train``, ``submit``, ``worker``, ``runs list | show | cancel | resume | retry``: experiments and the run store."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from asc_core.cli._common import _emit, _emit_lead


def cmd_train(a) -> int:
    from asc_core.config import load_config
    from asc_core.store import Store
    from asc_core.train.runner import run_experiment

    cfg = load_config(a.config, a.set)  # validated before any work
    store = Store(a.runs)
    store.mark_interrupted()
    summary = run_experiment(cfg, store, echo=None if a.json else (lambda s: print(f"[{s}]", file=sys.stderr)))
    _emit(summary, a.json, _format_summary(summary))
    return 0 if summary["status"] == "done" else 1


def cmd_submit(a) -> int:
    from asc_core import jobs
    from asc_core.config import load_raw
    from asc_core.grid import expand, fmt_duration, parse_grid, plan, plan_wall
    from asc_core.store import Store

    raw = load_raw(a.config)
    configs = expand(raw, parse_grid(a.grid), name=a.name or "", overrides=a.set)  # all validated first
    store = Store(a.runs)
    estimates = plan([c for _, c in configs], store)
    ids = jobs.launch([c for _, c in configs], store, a.group, label=raw.get("preset", Path(a.config).stem))
    group = store.get_run(ids[0])["group_name"] if ids else ""
    total = plan_wall(estimates)
    out = {
        "group": group,
        "runs": [
            {"run_id": i, "name": c.name, "estimate_s": e["estimate_s"]}
            for i, (_, c), e in zip(ids, configs, estimates)
        ],
        "estimate_s": total,
        "live_workers": len(store.live_workers()),
    }
    text = "\n".join(f"queued {r['run_id']}  {r['name']}  (~{fmt_duration(r['estimate_s'])})" for r in out["runs"])
    text += f"\n{len(ids)} run(s), about {fmt_duration(total)} on this machine"
    if not out["live_workers"]:
        text += "\nno worker is running: start one with `python -m asc_core worker`"
    _emit(out, a.json, text)
    return 0


def cmd_worker(a) -> int:
    from asc_core import jobs

    for name in ("huey", "asc_core.jobs", "asc_core.next_run"):  # what it runs, skips and passes over, and why
        logging.getLogger(name).setLevel(logging.INFO)
    n = a.concurrency or jobs.default_concurrency()
    return jobs.run_workers(n, a.runs, a.queue)


def cmd_load_demo(a) -> int:
    from asc_core import demo
    from asc_core.store import Store

    added = demo.load_bundle(Store(a.runs))
    _emit({"added": added}, a.json, f"{len(added)} demo run(s) added" + (f": {', '.join(added)}" if added else ""))
    return 0


def cmd_runs_control(a) -> int:
    from asc_core import job_queue, jobs
    from asc_core.store import Store

    store = Store(a.runs)
    store.mark_interrupted()
    if a.group:  # every run of a group the action applies to
        done = jobs.for_group(store, a.group, a.runs_command)
        text = "\n".join(f"{k}: {v}" for k, v in done.items()) or f"nothing in group {a.group!r} to {a.runs_command}"
        _emit({"group": a.group, "runs": done}, a.json, text)
        return 0
    if not a.run:
        raise ValueError(
            f"runs {a.runs_command}: give a run id" + ("" if a.runs_command == "next" else " or --group NAME")
        )
    if a.runs_command == "cancel":
        state = jobs.cancel(store, a.run)
        _emit({"run_id": a.run, "status": state}, a.json, f"{a.run}: {state}")
    elif a.runs_command == "next":
        job_queue.run_next(store, a.run)
        _emit({"run_id": a.run, "queue": job_queue.queue_order(store)}, a.json, f"{a.run}: next in the queue")
    elif a.runs_command == "resume":
        jobs.resume(store, a.run)
        _emit({"run_id": a.run, "status": "queued"}, a.json, f"{a.run}: queued to resume")
    else:
        new = jobs.retry(store, a.run)
        _emit({"run_id": new, "retry_of": a.run, "status": "queued"}, a.json, f"{a.run}: retried as {new} (queued)")
    return 0


def _format_summary(s: dict) -> str:
    from asc_core.jobs import time_text

    if s["status"] != "done":
        return f"run {s['run_id']}: {s['status']}" + (f" — {s['error']}" if s.get("error") else "")
    c = s["complexity"]
    lines = [
        f"run {s['run_id']}: done, {time_text(s)} — {s['student']} on {s['subset']} % "
        f"(teachers: {', '.join(s['teachers']) or 'none'})",
        f"  macro accuracy {s['macro_accuracy']:.1f} %  (seen {s['seen']:.1f} %, unseen {s['unseen']:.1f} %), "
        f"log loss {s['log_loss']:.3f}",
        "  per device: " + "  ".join(f"{d} {v:.1f}" for d, v in s["per_device"].items()),
        f"  deployed: {c['params']:,} params, {c['macs']:,} MACs, {c['bytes']['fp16']:,} B at fp16 — {c['verdict']}",
    ]
    if s.get("device_specific"):
        ds = s["device_specific"]
        lines.append(
            f"  device-specific: macro {ds['macro_accuracy']:.1f} %; gain "
            + "  ".join(f"{d} {g:+.1f}" for d, g in ds["gain"].items())
        )
    return "\n".join(lines)


def cmd_runs(a) -> int:
    from asc_core.store import Store

    store = Store(a.runs)
    store.mark_interrupted()
    if a.runs_command == "list":
        runs = store.list_runs()
        if a.status:
            runs = [r for r in runs if r["status"] in a.status.split(",")]
        if a.queue:  # what the Jobs page lists under "queued": in the order the workers will take them
            from asc_core.job_queue import in_queue_order

            runs, _ = in_queue_order(store, [r for r in runs if r["status"] == "queued"])
        rows = [
            {
                "run_id": r["run_id"],
                "status": r["status"],
                "name": r["name"],
                "group": r["group_name"],
                "subset": (r.get("config") or {}).get("subset"),
                "stage": r["stage"],
                "progress": r["progress"],
                "macro_accuracy": (r["summary"] or {}).get("macro_accuracy"),
            }
            for r in runs
        ]
        text = (
            "\n".join(
                f"{r['run_id']}  {r['status']:<11} {r['name'] or '':<16} "
                + (f"{r['subset']:>3} %  " if r["subset"] is not None else "")
                + f"{r['stage'] or '':<28} "
                + (f"{r['macro_accuracy']:.1f} %" if r["macro_accuracy"] is not None else "")
                for r in rows
            )
            or "no runs yet"
        )
        _emit(rows, a.json, text)
    elif a.runs_command == "lead":  # the Compare page's Table IV tab, seed by seed
        from asc_core.app import compare

        none = "no finished run with teachers beside a finished run of the same config without them in this store"
        _emit_lead(compare.teacher_lead_pairs(store.list_runs()), a.json, True, none)
    elif a.runs_command == "show":
        r = store.get_run(a.run)
        r["artifacts"] = store.artifacts(a.run)
        r["skipped_clips"] = store.problems(a.run)
        text = [f"{r['run_id']}: {r['status']} ({r['stage'] or ''})"]
        if r["error"]:
            text.append(f"error: {r['error']}")
        if r["summary"]:
            text.append(_format_summary(r["summary"]))
        _emit(r, a.json, "\n".join(text))
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="run one experiment now (config YAML or preset name)")
    t.add_argument("config", help="YAML file, or a preset name: quick, quick-single, quick-progressive, paper")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    t.add_argument("--runs", default=None, help="run store folder (default: $ASC_RUNS or runs/)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", help="the run store").add_subparsers(dest="runs_command", required=True)
    rl = r.add_parser("list")
    rl.add_argument("--status", default="", help="only runs in these states, e.g. queued,running")
    rl.add_argument("--queue", action="store_true", help="the queued runs, in the order the workers will take them")
    rl.add_argument("--runs", default=None)
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(func=cmd_runs)
    rs = r.add_parser("show")
    rs.add_argument("run")
    rs.add_argument("--runs", default=None)
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(func=cmd_runs)

    lead_help = ("each finished run with teachers against the run of the same config without them: its gain "
                 "against its best teacher's lead (does the student follow its teachers?)")  # fmt: skip
    rd = r.add_parser("lead", help=lead_help)
    rd.add_argument("--runs", default=None)
    rd.add_argument("--json", action="store_true")
    rd.set_defaults(func=cmd_runs)

    ld = r.add_parser("load-demo", help="copy the shipped demo runs (assets/demo_runs) into the run store")
    ld.add_argument("--runs", default=None)
    ld.add_argument("--json", action="store_true")
    ld.set_defaults(func=cmd_load_demo)

    for name, helptext in (
        ("cancel", "stop a queued or running run (a running one saves its checkpoint)"),
        ("resume", "queue an interrupted, cancelled or failed run to continue from its checkpoint"),
        ("retry", "queue a fresh run with the same config"),
        ("next", "put a queued run ahead of the others in the queue (not on a Redis queue)"),
    ):
        rc = r.add_parser(name, help=helptext)
        rc.add_argument("run", nargs="?", default="")
        rc.add_argument("--group", default="", help="every run of this group it applies to")
        rc.add_argument("--runs", default=None)
        rc.add_argument("--json", action="store_true")
        rc.set_defaults(func=cmd_runs_control)

    q = sub.add_parser("submit", help="queue an experiment (or a grid of them) for the workers")
    q.add_argument("config", help="YAML file or preset name")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    q.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="several values for a key; the cartesian product of all --grid keys is queued as one group",
    )
    q.add_argument("--group", default="", help="group name (default: one is made up for grids)")
    q.add_argument("--name", default="", help="run name prefix")
    q.add_argument("--runs", default=None)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_submit)

    w = sub.add_parser("worker", help="execute queued runs (Ctrl-C stops; the current run checkpoints and can resume)")
    w.add_argument("--concurrency", type=int, default=0, help="worker processes (default: one per GPU, else 1)")
    w.add_argument(
        "--queue", default=None, help="queue URL: sqlite:///PATH (default: in the run store) or redis://HOST:PORT/DB"
    )
    w.add_argument("--runs", default=None)
    w.set_defaults(func=cmd_worker)
