"""``data synth | check | download-tau22 | probe``: datasets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from asc_core.cli._common import _bar, _emit
from asc_core.constants import SUBSETS


def cmd_data_synth(a) -> int:
    from asc_core.embedded.synth import generate, is_complete

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
    from asc_core.train.probe import probe

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


def register(sub) -> None:
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
