"""``python -m asc_core ...``: the headless face of ASC Lab (the app is a view over the same calls).

``--json`` prints exactly one JSON document on stdout; progress bars and logs go to stderr.
Errors about user input print one clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from asc_core.constants import SUBSETS
from asc_core.data.errors import DatasetError


def _bar(desc: str, enabled: bool = True):
    """A tqdm progress bar on stderr, returned as a ``progress(done, total)`` callback."""
    from tqdm import tqdm

    state = {}

    def update(done: int, total: int):
        if not enabled:
            return
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _emit(obj, as_json: bool, text: str):
    if as_json:
        json.dump(obj, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


# ---------------------------------------------------------------- data
def cmd_data_synth(a) -> int:
    from asc_core.data.synth import generate, is_complete

    out = Path(a.out)
    if a.if_missing and is_complete(out, a.preset, a.seed):
        print(f"{out}: embedded '{a.preset}' dataset (seed {a.seed}) already present", file=sys.stderr)
        return 0
    print(f"Generating the embedded '{a.preset}' dataset (seed {a.seed}) into {out} ...", file=sys.stderr)
    generate(a.preset, a.seed, out, workers=a.workers, progress=_bar(f"{a.preset}: recordings"))
    info = json.loads((out / "synth.json").read_text())
    print(f"{out}: {info['files']} clips ({info['train_segments']} training, {info['test_segments']} test)")
    return 0


def cmd_data_check(a) -> int:
    from asc_core.data.check import check_dataset, format_report

    report = check_dataset(a.root, decode_audio=a.decode, progress=_bar("checking audio", not a.json))
    _emit(report, a.json, format_report(report))
    return 0 if not report["problems"] else 1


def cmd_data_download(a) -> int:
    from asc_core.data.download import download_tau22

    root = download_tau22(a.root, partial=a.partial, cleanup=a.cleanup)
    print(f"TAU22 development set ready in {root}")
    return 0


def cmd_data_probe(a) -> int:
    from dataclasses import asdict

    from asc_core.data import open_dataset
    from asc_core.data.probe import probe

    ds = open_dataset(a.root)
    bars = {}

    def progress(pct, step, total):
        bars.setdefault(pct, _bar(f"subset {pct}%", not a.json))(step, total)

    res = probe(
        ds,
        [int(s) for s in a.subsets.split(",")],
        model=a.model,
        width=a.width,
        epochs=a.epochs,
        min_steps=a.min_steps,
        seed=a.seed,
        progress=progress,
    )
    lines = [f"{'subset':>6} {'clips':>6} {'epochs':>6} {'macro acc':>9} {'seen':>6} {'unseen':>6}  {'s':>5}"]
    for r in res:
        lines.append(
            f"{r.subset:>5}% {r.train_clips:>6} {r.epochs:>6} {r.accuracy:>8.1f}% "
            f"{r.seen:>5.1f}% {r.unseen:>5.1f}% {r.seconds:>5.0f}"
        )
        lines.append("        per device: " + "  ".join(f"{d} {v:.0f}" for d, v in r.per_device.items()))
    _emit([asdict(r) | {"seen": r.seen, "unseen": r.unseen} for r in res], a.json, "\n".join(lines))
    return 0


# ---------------------------------------------------------------- models
def cmd_models(a) -> int:
    from asc_core.models import list_models, model_doc, model_family

    rows = [{"name": n, "family": model_family(n), "description": model_doc(n)} for n in list_models()]
    _emit(rows, a.json, "\n".join(f"{r['name']:<18} {r['family']:<8} {r['description']}" for r in rows))
    return 0


def cmd_complexity(a) -> int:
    from asc_core.complexity import model_report

    rep = model_report(a.model, a.width)
    text = [f"{a.model}" + (f" (width {a.width})" if a.width else "") + f", input {rep['deployed']['input_shape']}"]
    for key in ("deployed", "training"):
        if key in rep:
            c = rep[key]
            text.append(
                f"  {key:<9} {c['params']:>10,} params  {c['macs']:>14,} MACs  "
                f"{c['bytes']['fp32']:>9,} B fp32  {c['bytes']['fp16']:>9,} B fp16  {c['bytes']['int8']:>9,} B int8"
            )
    text.append("  " + rep["deployed"]["verdict"])
    if a.layers:
        text.append(f"  {'layer':<40}{'output':>22}{'params':>10}{'MACs':>14}")
        for r in rep["deployed"]["layers"]:
            text.append(f"  {r['name']:<40}{str(r['output_shape']):>22}{r['params']:>10,}{r['macs']:>14,}")
    _emit(rep, a.json, "\n".join(text))
    return 0


# ---------------------------------------------------------------- training and runs
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
    from asc_core.grid import expand, fmt_duration, parse_grid, plan
    from asc_core.store import Store

    raw = load_raw(a.config)
    configs = expand(raw, parse_grid(a.grid), name=a.name or "", overrides=a.set)  # all validated first
    store = Store(a.runs)
    estimates = plan([c for _, c in configs], store)
    ids = jobs.launch([c for _, c in configs], store, a.group, label=raw.get("preset", Path(a.config).stem))
    group = store.get_run(ids[0])["group_name"] if ids else ""
    total = sum(e["estimate_s"] for e in estimates)
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

    logging.getLogger("huey").setLevel(logging.INFO)
    n = a.concurrency or jobs.default_concurrency()
    return jobs.run_workers(n, a.runs, a.queue)


def cmd_runs_control(a) -> int:
    from asc_core import jobs
    from asc_core.store import Store

    store = Store(a.runs)
    store.mark_interrupted()
    if a.runs_command == "cancel":
        state = jobs.cancel(store, a.run)
        _emit({"run_id": a.run, "status": state}, a.json, f"{a.run}: {state}")
    elif a.runs_command == "resume":
        jobs.resume(store, a.run)
        _emit({"run_id": a.run, "status": "queued"}, a.json, f"{a.run}: queued to resume")
    else:
        new = jobs.retry(store, a.run)
        _emit({"run_id": new, "retry_of": a.run, "status": "queued"}, a.json, f"{a.run}: retried as {new} (queued)")
    return 0


def _format_summary(s: dict) -> str:
    if s["status"] != "done":
        return f"run {s['run_id']}: {s['status']}" + (f" — {s['error']}" if s.get("error") else "")
    c = s["complexity"]
    lines = [
        f"run {s['run_id']}: done in {s.get('seconds', 0):.0f} s — {s['student']} on {s['subset']} % "
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
        rows = [
            {
                "run_id": r["run_id"],
                "status": r["status"],
                "name": r["name"],
                "group": r["group_name"],
                "stage": r["stage"],
                "progress": r["progress"],
                "macro_accuracy": (r["summary"] or {}).get("macro_accuracy"),
            }
            for r in runs
        ]
        text = (
            "\n".join(
                f"{r['run_id']}  {r['status']:<11} {r['name'] or '':<16} {r['stage'] or '':<28} "
                + (f"{r['macro_accuracy']:.1f} %" if r["macro_accuracy"] is not None else "")
                for r in rows
            )
            or "no runs yet"
        )
        _emit(rows, a.json, text)
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


def cmd_export(a) -> int:
    from asc_core.export import export_run
    from asc_core.store import Store

    info = export_run(Store(a.runs), a.run, a.format, a.out, a.kind)
    text = f"{info['path']}: {info['format']}, {info['bytes']:,} bytes, input {info['input']}"
    if "max_abs_diff" in info:
        text += f"; onnxruntime vs PyTorch max abs diff {info['max_abs_diff']:.2e}"
    _emit(info, a.json, text + "\n\n" + info["example"])
    return 0


# ---------------------------------------------------------------- bench
def cmd_bench(a) -> int:
    from asc_core import bench

    fn = {"data": bench.bench_data, "models": bench.bench_models, "train": bench.bench_train, "app": bench.bench_app}[
        a.what
    ]
    result = fn(quick=a.quick)
    _emit(result, a.json, bench.format_result(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m asc_core", description="ASC Lab: data-efficient, low-complexity acoustic scene classification"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="datasets: generate, check, download").add_subparsers(
        dest="data_command", required=True
    )
    s = data.add_parser("synth", help="generate the embedded TAU-like dataset")
    s.add_argument("--preset", choices=["tiny", "mini", "standard"], default="mini")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    s.add_argument("--if-missing", action="store_true", help="do nothing if the same preset and seed is already there")
    s.set_defaults(func=cmd_data_synth)

    c = data.add_parser("check", help="counts per split × scene × device × city, and the problems found")
    c.add_argument("--root", required=True)
    c.add_argument("--decode", action="store_true", help="decode every clip (slow on the full TAU22)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_data_check)

    d = data.add_parser("download-tau22", help="download TAU Urban Acoustic Scenes 2022 Mobile (dev) with soundata")
    d.add_argument("--root", required=True)
    d.add_argument("--partial", nargs="*", default=None, help="only these soundata remotes (e.g. meta audio.1)")
    d.add_argument("--cleanup", action="store_true", help="delete the zip files after extraction")
    d.set_defaults(func=cmd_data_download)

    pr = data.add_parser("probe", help="train a model briefly on each subset: how hard is this dataset?")
    pr.add_argument("--root", required=True)
    pr.add_argument("--subsets", default=",".join(map(str, SUBSETS)))
    pr.add_argument("--model", default="dcase24_baseline")
    pr.add_argument("--width", type=int, default=32)
    pr.add_argument("--epochs", type=int, default=10)
    pr.add_argument("--min-steps", type=int, default=0, help="train small subsets for at least this many steps")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_data_probe)

    m = sub.add_parser("models", help="the registered models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    cx = sub.add_parser("complexity", help="params, MACs, bytes and the DCASE verdict of a model")
    cx.add_argument("--model", required=True)
    cx.add_argument("--width", type=int, default=None)
    cx.add_argument("--layers", action="store_true", help="per-layer table")
    cx.add_argument("--json", action="store_true")
    cx.set_defaults(func=cmd_complexity)

    t = sub.add_parser("train", help="run one experiment now (config YAML or preset name)")
    t.add_argument("config", help="YAML file, or a preset name: quick, quick-single, quick-progressive, paper")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    t.add_argument("--runs", default=None, help="run store folder (default: $ASC_RUNS or runs/)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", help="the run store").add_subparsers(dest="runs_command", required=True)
    rl = r.add_parser("list")
    rl.add_argument("--runs", default=None)
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(func=cmd_runs)
    rs = r.add_parser("show")
    rs.add_argument("run")
    rs.add_argument("--runs", default=None)
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(func=cmd_runs)

    for name, helptext in (
        ("cancel", "stop a queued or running run (a running one saves its checkpoint)"),
        ("resume", "queue an interrupted, cancelled or failed run to continue from its checkpoint"),
        ("retry", "queue a fresh run with the same config"),
    ):
        rc = r.add_parser(name, help=helptext)
        rc.add_argument("run")
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

    ex = sub.add_parser("export", help="a finished run's deployed model as ONNX or a PyTorch state dict")
    ex.add_argument("run")
    ex.add_argument("--format", choices=["onnx", "state_dict"], default="onnx")
    ex.add_argument("--out", required=True)
    ex.add_argument("--kind", default="deployed", help="which model of the run (deployed, student, device_a, ...)")
    ex.add_argument("--runs", default=None)
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(func=cmd_export)

    b = sub.add_parser("bench", help="throughput and latency on this machine")
    b.add_argument("what", choices=["data", "models", "train", "app"])
    b.add_argument("--quick", action="store_true", help="smaller measurements (for tests)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (DatasetError, ValueError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
