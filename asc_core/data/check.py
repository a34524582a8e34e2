"""``data check``: what a dataset holds (split × scene × device, cities) and what is wrong with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from asc_core.data.errors import DatasetError
from asc_core.data.labels import DEVICES, SCENES, UNSEEN_DEVICES
from asc_core.data.tau22 import SUBSETS, TAU22Dataset


def _invariants(ds: TAU22Dataset) -> list[str]:
    problems = []
    c = ds.clips
    sets = {k: set(np.asarray(v).tolist()) for k, v in ds.split_rows.items()}
    for small, big in zip(SUBSETS, SUBSETS[1:]):
        extra = len(sets[f"split{small}"] - sets[f"split{big}"])
        if extra:
            problems.append(f"split{small}.csv is not inside split{big}.csv ({extra} rows outside)")
    train = c[c["subset"] > 0]
    unseen = train[train["device"].isin(UNSEEN_DEVICES)]
    if len(unseen):
        problems.append(f"{len(unseen)} training clips from unseen devices s4–s6")
    both = set(train["location"]) & set(c[c["test"]]["location"])
    if both:
        problems.append(f"{len(both)} locations in both training and test, e.g. {sorted(both)[0]}")
    unknown = sorted(set(c["device"]) - set(DEVICES))
    if unknown:
        problems.append(f"unknown device labels: {', '.join(unknown)}")
    unknown = sorted(set(c["scene"]) - set(SCENES))
    if unknown:
        problems.append(f"unknown scene labels: {', '.join(unknown)}")
    return problems


def _counts(df: pd.DataFrame) -> dict:
    t = df.groupby(["scene", "device"]).size().unstack(fill_value=0)
    return {scene: {d: int(n) for d, n in row.items()} for scene, row in t.iterrows()}


def check_dataset(root: str | Path, decode_audio: bool = False, progress=None) -> dict:
    """A JSON-ready report: counts per split × scene × device and per city, and every problem found."""
    try:
        ds = TAU22Dataset(root)
    except DatasetError as e:
        return {"root": str(root), "clips": 0, "counts": {}, "cities": {}, "problems": [str(e)], "bad_files": []}
    c = ds.clips
    splits = {f"split{p}": ds.subset(p) for p in SUBSETS} | {"test": ds.test()}
    report = {
        "root": str(Path(root)),
        "clips": int(len(c)),
        "rows": {k: int(len(v)) for k, v in splits.items()},
        "devices": {
            k: {d: int(n) for d, n in v["device"].value_counts().sort_index().items()} for k, v in splits.items()
        },
        "counts": {k: _counts(v) for k, v in splits.items()},
        "cities": {
            k: {city: int(n) for city, n in v["city"].value_counts().sort_index().items()} for k, v in splits.items()
        },
        "locations": {k: int(v["location"].nunique()) for k, v in splits.items()},
        "problems": list(ds.problems) + _invariants(ds),
    }
    bad = ds.check_files(decode_audio=decode_audio, progress=progress)
    report["bad_files"] = [{"file": e.path, "problem": e.problem} for e in bad]
    if bad:
        report["problems"].append(f"{len(bad)} audio file(s) unusable, e.g. {bad[0]}")
    return report


def format_report(r: dict) -> str:
    lines = [f"{r['root']}: {r['clips']} clips"]
    if r.get("rows"):
        lines.append(f"{'split':<9}{'clips':>8}{'locations':>10}  " + " ".join(f"{d:>6}" for d in DEVICES))
        for k, n in r["rows"].items():
            dev = r["devices"][k]
            lines.append(f"{k:<9}{n:>8}{r['locations'][k]:>10}  " + " ".join(f"{dev.get(d, 0):>6}" for d in DEVICES))
        lines.append("")
        lines.append("clips per scene (split5 / split100 / test):")
        for scene in SCENES:
            vals = [sum(r["counts"][k].get(scene, {}).values()) for k in ("split5", "split100", "test")]
            lines.append(f"  {scene:<18}" + " / ".join(f"{v:>6}" for v in vals))
        lines.append("cities in split100: " + ", ".join(f"{c} {n}" for c, n in r["cities"]["split100"].items()))
    lines.append("")
    if r["problems"]:
        lines.append(f"{len(r['problems'])} problem(s):")
        lines += [f"  - {p}" for p in r["problems"]]
        for b in r.get("bad_files", [])[:20]:
            lines.append(f"    {b['file']}: {b['problem']}")
    else:
        lines.append("no problems found")
    return "\n".join(lines)
