"""The tables' results kept in the repository, and where each planned run stands (``asc_core.tables`` plans them).

``collect`` writes one CSV row per finished run to ``docs/results/<table>.csv`` (config digest, seed, figures,
per-device and per-class accuracy, wall time, machine, the data it was made on), merging with the rows already there,
so the work resumes on another machine. ``standing`` sets each planned run against those rows and the run store
(recorded, in the store, to run). ``results_frame`` / ``table_cells`` / ``cell_runs`` read the rows back with the
Compare page's table code (``aggregate.paper_table``); a table shows one version of its data, never a mix
(``shown_dataset``).
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd

from asc_core.data.labels import DEVICES
from asc_core.embedded.synth import dataset_tag
from asc_core.machine import describe
from asc_core.paths import PROJECT_ROOT
from asc_core.tables import (
    PRETRAINED_ROW,
    TABLE_SUBSETS,
    TABLES,
    plan,
    result_key,
    row_overrides,
    row_subsets,
    run_key,
    runs_of,
)

RESULTS_DIR = PROJECT_ROOT / "docs" / "results"


_FIELDS = ["table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy", "seen", "unseen",
           "params", "macs", "device_specific_macro_accuracy", "seconds", "machine", "per_device", "per_class",
           "per_device_specific", "teacher_accuracy", "pruning", "dataset", "threads", "curve",
           "cpu_share"]  # fmt: skip


def data_version(tag: str) -> int:
    return int(tag.rsplit(" v", 1)[1]) if " v" in tag else 1


def row_dataset(row: dict) -> str:
    """The dataset a CSV row was measured on; rows recorded before the column: the embedded standard set of
    generator 1 (every one of them was)."""
    return row.get("dataset") or "standard"


def shown_dataset(table: str, rows: dict | None = None) -> str:
    """The dataset whose rows a table shows: the version with the most rows in it, the newer one where they are as
    many (a table is never a mix of datasets: its rows are compared with each other). A newer version takes over once
    it has caught up, not at its first run, so a table does not empty while a new version is measured. None
    recorded: what this code would generate. ``rows``: ``recorded()``, where the caller has read it already."""
    counts = Counter(row_dataset(r) for r in (recorded() if rows is None else rows).values() if r["table"] == table)
    return max(counts, key=lambda t: (counts[t], data_version(t))) if counts else dataset_tag("standard")


class ResultsError(ValueError):
    """A results CSV this code cannot read: named, never rewritten (``collect`` would drop its rows)."""


_NEEDED = ("table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy")


def recorded() -> dict[tuple[str, int], dict]:
    """(config digest, seed) → CSV row, over every committed table CSV; ResultsError names a file that is not one
    (a column missing, a subset or seed that is not a number) rather than a KeyError from deep in a page."""
    out = {}
    for path in sorted(RESULTS_DIR.glob("*.csv")):
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            lacking = [c for c in _NEEDED if c not in (reader.fieldnames or [])]
            if lacking:
                raise ResultsError(f"{path}: not a results table (no column {', '.join(lacking)}); fix or remove it")
            for n, row in enumerate(reader, start=2):
                try:
                    int(row["subset"])
                    out[(row["config_digest"], int(row["seed"]))] = row
                except (TypeError, ValueError):
                    raise ResultsError(f"{path}, line {n}: subset {row['subset']!r} or seed {row['seed']!r} is not "
                                       "a whole number; fix or remove the row") from None  # fmt: skip
    return out


# a run in the store stands for its planned run in this order; a cancelled or failed one does not (someone stopped
# it, or it would fail again): the plan runs it afresh
_STANDING = ("done", "running", "queued", "interrupted")


def standing(items: list[dict], store) -> dict[str, list[dict]]:
    """The planned runs by where they stand: "recorded" (in the committed CSVs), "in the store" (done there and not
    yet collected, queued, running, or interrupted: ``queue`` resumes it from its checkpoint) and "to run" (none of
    these: what ``queue`` launches). Where one config has several runs, the furthest along stands for it."""
    have = set(recorded())
    in_store: dict = {}
    for r in store.list_runs():
        if r["status"] in _STANDING and r.get("config"):
            key = (run_key(r), int(r["config"].get("seed", 0)))
            if key not in in_store or _STANDING.index(r["status"]) < _STANDING.index(in_store[key]["status"]):
                in_store[key] = r
    out = {"recorded": [], "in the store": [], "to run": []}
    for i in runs_of(items):
        key = (result_key(i["config"]), i["seed"])
        if key in have:
            out["recorded"].append(i)
        elif key in in_store:  # with its run: how far it got (a resumed run goes on from its checkpoint)
            out["in the store"].append({**i, "run": in_store[key]})
        else:
            out["to run"].append(i)
    return out


def missing(items: list[dict], store) -> list[dict]:
    """The planned runs neither in the committed CSVs nor in the store (done, running, queued or interrupted)."""
    return standing(items, store)["to run"]


def interrupted(items: list[dict], store) -> list[dict]:
    """The planned runs whose run in the store was interrupted (a worker stopped or killed): ``queue`` resumes them
    from their checkpoints rather than training them again."""
    return [i["run"] for i in standing(items, store)["in the store"] if i["run"]["status"] == "interrupted"]


def progress(table: str, tag: str | None = None, rows: dict | None = None, seeds: int = 2) -> tuple[int, int]:
    """(runs recorded in the committed CSVs, runs planned) for one table on one dataset (default: the one shown), at
    the default plan (2 seeds) or with ``seeds`` a cell."""
    rows = recorded() if rows is None else rows
    items, tag = runs_of(plan([table], seeds=seeds, dataset="standard")), tag or shown_dataset(table, rows)
    return sum((result_key(i["config"], tag), i["seed"]) in rows for i in items), len(items)


def collect(store, items: list[dict]) -> int:
    """Finished runs of the plan → rows of docs/results/<table>.csv (merged by digest and seed). Rows written."""
    by_key = {(result_key(i["config"]), i["seed"]): i for i in runs_of(items)}
    rows = recorded()
    have_runs = {v["run_id"] for v in rows.values()}  # a run is one row, even if its digest was computed otherwise
    n, machine = 0, describe()
    for r in store.list_runs("done"):
        key = (run_key(r), int((r.get("config") or {}).get("seed", 0)))
        if key in rows and rows[key]["run_id"] == r["run_id"]:  # columns added after the row: filled from its run
            empty = [col for col in _LATER_COLUMNS if not rows[key].get(col)]
            if empty:
                later = _later(r, store)
                rows[key].update({col: later[col] for col in empty})
        if key not in by_key or key in rows or r["run_id"] in have_runs:
            continue
        i, s = by_key[key], r["summary"] or {}
        cx, ds = s.get("complexity") or {}, s.get("device_specific") or {}
        rows[key] = {"table": i["table"], "row": i["row"], "subset": i["subset"], "seed": i["seed"],
                     "config_digest": key[0], "run_id": r["run_id"], "macro_accuracy": s.get("macro_accuracy"),
                     "seen": s.get("seen"), "unseen": s.get("unseen"), "params": cx.get("params"),
                     "macs": cx.get("macs"),
                     "device_specific_macro_accuracy": ds.get("macro_accuracy"), "seconds": s.get("seconds"),
                     "machine": machine, "dataset": s.get("dataset_tag") or Path(i["config"].dataset or "mini").name,
                     "per_device": json.dumps(s.get("per_device") or {}),
                     "per_class": json.dumps(s.get("per_class") or {}),
                     "per_device_specific": json.dumps(ds.get("per_device") or {}),
                     **_later(r, store)}  # fmt: skip
        n += 1
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        mine = sorted(
            ({**v, "dataset": row_dataset(v)} for v in rows.values() if v["table"] == table),  # said, not implied
            key=lambda v: (v["row"], int(v["subset"]), int(v["seed"])),
        )
        if mine:  # written whole, then renamed: a collect running beside this one never reads half a file
            path = RESULTS_DIR / f"table_{table}.csv"
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            # columns this code does not know (written by a newer version sharing the folder) are kept, not refused
            extra = sorted({k for v in mine for k in v if k not in _FIELDS and k is not None})
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, _FIELDS + extra)
                w.writeheader()
                w.writerows(mine)
            os.replace(tmp, path)
    return n


def _teacher_accuracy(summary: dict) -> str:
    """The run's teachers' own test accuracy (%), {model: accuracy} as JSON ("" for a run without teachers): what a
    KD row's student could learn from, kept with its result."""
    names, accs = summary.get("teachers") or [], summary.get("teacher_accuracy") or []
    return json.dumps({n: round(a, 2) for n, a in zip(names, accs) if a is not None}) if names else ""


def _pruning(summary: dict) -> str:
    """A pruned run's path, round by round, as JSON: [{target, before, after_pruning, after_finetune, params, macs}]
    (macro accuracy, %) — how a pruned cell got where it is, kept with its result ("" for a run not pruned)."""
    rounds = summary.get("pruning_rounds") or []
    keep = {"target": "target", "before": "accuracy_before", "after_pruning": "accuracy_after_pruning",
            "after_finetune": "accuracy_after_finetune", "params": "params", "macs": "macs"}  # fmt: skip
    return json.dumps([{k: _rounded(r.get(v)) for k, v in keep.items()} for r in rounds]) if rounds else ""


def _threads(summary: dict):
    """The CPU threads the run trained with ("" where its summary predates the record, 27 Nov 2026 17:34): a run
    reproduces to the hundredth only at its own thread count, since the count changes the order of floating-point
    sums (Table II, 25 %, seed 0, all branches: 59.39 % at one thread, as recorded; 62.5 % at two)."""
    return summary.get("threads", "")


def _cpu_share(summary: dict):
    """The share of its threads' CPU time the run's last attempt got (``machine.cpu_share``; "" where its summary
    predates the record, 28 Nov 2026, or it ran on a GPU): under 0.8 its ``seconds`` were slowed by other work."""
    return summary.get("cpu_share", "")


def _curve(store, run: dict) -> str:
    """The student's learning curve as JSON {"test": [[epoch, %], ...], "train": [[epoch, %], ...]}: test accuracy
    after each epoch that validated (every ``validate_every``; runs logged before 28 Nov 2026 repeated the last
    figure in between, which this drops) and training accuracy after every epoch, epochs counted from 1. "" for a
    run that trained no student of its own (a pruned run starts from its parent's)."""
    m = store.metrics(run["run_id"])
    m = m[m["stage"] == "student training"] if not m.empty else m
    if m.empty:
        return ""
    every = int(((run.get("config") or {}).get("optim") or {}).get("validate_every") or 1)
    test = m[(m["key"] == "val_acc") & ((m["epoch"] + 1) % every == 0)].sort_values("epoch")
    train = m[m["key"] == "train_acc"].sort_values("epoch")
    return json.dumps({name: [[int(e) + 1, round(100 * float(v), 1)] for e, v in zip(g["epoch"], g["value"])]
                       for name, g in (("test", test), ("train", train))})  # fmt: skip


def _later(run: dict, store) -> dict:
    """The columns added after rows were first recorded, from the run in this machine's store."""
    summary = run["summary"] or {}
    return {**{col: fill(summary) for col, fill in _FROM_SUMMARY.items()}, "curve": _curve(store, run)}


def _rounded(v):
    return round(v, 2) if isinstance(v, float) else v


# Columns added after rows were recorded: collect fills them in from the run when it is in this machine's store
# (rows made elsewhere keep them empty), and every new row gets them.
_FROM_SUMMARY = {
    "teacher_accuracy": _teacher_accuracy,
    "pruning": _pruning,
    "threads": _threads,
    "cpu_share": _cpu_share,
}
_LATER_COLUMNS = [*_FROM_SUMMARY, "curve"]


def results_frame(datasets: dict[str, str] | None = None) -> pd.DataFrame:
    """The committed CSV rows as the Compare page's runs frame columns (name, status, cfg.subset, macro_acc): each
    table's shown dataset, or the one ``datasets`` names for it ({table: tag}; an earlier version, side by side)."""
    have = recorded()  # read once: the CSVs are read on every rerun of the Learn and Compare pages
    shown = {t: shown_dataset(t, have) for t in TABLES} | (datasets or {})
    rows = [{**r, "dataset": row_dataset(r)} for r in have.values() if row_dataset(r) == shown.get(r["table"])]
    df = pd.DataFrame(rows)
    if df.empty:
        return results_frame_empty()
    df["name"] = "Table " + df["table"] + " · " + df["row"]
    df["status"] = "done"
    df["cfg.subset"] = df["subset"].astype(int)
    df["macro_acc"] = pd.to_numeric(df["macro_accuracy"], errors="coerce")
    return df


def datasets_beside(table: str, rows: dict | None = None) -> tuple[list[str], list[str]]:
    """(earlier, newer) data versions a table has rows on besides the one it shows, oldest first: what it showed
    before (kept, never mixed in) and what is under way."""
    rows = recorded() if rows is None else rows
    shown = shown_dataset(table, rows)
    tags = sorted({row_dataset(r) for r in rows.values() if r["table"] == table} - {shown}, key=data_version)
    return [t for t in tags if data_version(t) < data_version(shown)], [
        t for t in tags if data_version(t) > data_version(shown)
    ]


def earlier_datasets(table: str, rows: dict | None = None) -> list[str]:
    """The data versions a table showed before the one it shows, oldest first."""
    return datasets_beside(table, rows)[0]


def results_frame_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["name", "status", "cfg.subset", "macro_acc", "run_id", "table"])


def table_cells(df: pd.DataFrame, table: str, items: list[dict] | None = None) -> pd.DataFrame:
    """Rows × subsets, 'mean ± std (n=k)' or 'missing', by the Compare page's table code; rows in plan order."""
    from asc_core.aggregate import paper_table

    _, cells = paper_table(df, "name", lambda d: d["name"].str.startswith(f"Table {table} · "))
    order = [f"Table {table} · {r}" for r in row_overrides(table)]
    pretrained = f"Table III · {PRETRAINED_ROW}"  # recorded on a machine with the weights: shown on one without
    order += [pretrained] if table == "III" and pretrained in cells.index and pretrained not in order else []
    cells = cells.reindex([o for o in order if o in cells.index] + [o for o in order if o not in cells.index])
    subsets = (25,) if table == "device" else TABLE_SUBSETS
    cells = cells[[f"{s} %" for s in subsets]].fillna("missing")
    cells.index = [i.split(" · ", 1)[1] for i in cells.index]
    for row, over in row_overrides(table).items():  # a row planned at some subsets only: "–" at the others
        for s in set(subsets) - set(row_subsets(table, over, subsets)):
            cells.loc[row, f"{s} %"] = NOT_PLANNED
    for i in plan([table], subsets, 1, "standard"):
        col = f"{i['subset']} %"
        if i.get("same_as") and cells.loc[i["same_as"], col] != "missing":
            cells.loc[i["row"], col] = f"{cells.loc[i['same_as'], col]} (the runs above: one config here)"
    return cells


NOT_PLANNED = "–"  # a row planned at some subsets only, at the others


def nothing_recorded(cells: pd.DataFrame) -> bool:
    """Whether ``table_cells`` holds no result at all (every cell missing or not planned)."""
    return bool(cells.isin(["missing", NOT_PLANNED]).all().all())


def cell_runs(table: str, row: str, subset: int) -> pd.DataFrame:
    """The committed runs behind one cell (a ``same_as`` row: the runs of the row it shows), one row per run with
    the Compare page's columns (name, run_id, status, macro_acc, seen, unseen, macs, seconds, machine, threads,
    cpu_share, seed, its teachers, pruning path, learning curve and ``acc.<device>``), so its per-device bars come
    from the CSV alone — the run itself may be on another machine."""
    shown = next((i.get("same_as") or row for i in plan([table], (subset,), 1, "standard") if i["row"] == row), row)
    have = recorded()
    out, data = [], shown_dataset(table, have)
    for v in have.values():
        if v["table"] != table or v["row"] != shown or int(v["subset"]) != subset or row_dataset(v) != data:
            continue
        try:
            per_device = json.loads(v.get("per_device") or "{}")
        except ValueError:  # a hand-edited cell: the bars lack this run, the row still lists it
            per_device = {}
        out.append({"name": f"seed {v['seed']}", "run_id": v["run_id"], "status": "done", "seed": int(v["seed"]),
                    "macro_acc": _number(v.get("macro_accuracy")), "seen": _number(v.get("seen")),
                    "unseen": _number(v.get("unseen")), "macs": _number(v.get("macs")),
                    "seconds": _number(v.get("seconds")), "machine": v.get("machine", ""),
                    "threads": _number(v.get("threads")), "cpu_share": _number(v.get("cpu_share")),
                    "teachers": _teachers_text(v.get("teacher_accuracy")),
                    "pruning": _json_cell(v.get("pruning"), list), "curve": _json_cell(v.get("curve"), dict),
                    **{f"acc.{d}": per_device.get(d) for d in DEVICES}})  # fmt: skip
    cols = ["name", "run_id", "status", "seed", "macro_acc", "seen", "unseen", "macs", "seconds", "machine",
            "threads", "cpu_share", "teachers", "pruning", "curve"]  # fmt: skip
    return pd.DataFrame(out, columns=cols + [f"acc.{d}" for d in DEVICES]).sort_values("seed", ignore_index=True)


def _json_cell(cell, kind: type):
    """A CSV's JSON ``kind`` (list: the pruning path; dict: the learning curve); empty for none, a row recorded
    before the column, or a hand-edited cell."""
    try:
        v = json.loads(cell or "null")
    except ValueError:
        return kind()
    return v if isinstance(v, kind) else kind()


def _teachers_text(cell) -> str:
    """'cp_resnet 53.1 %, cp_mobile 39.8 %' from a CSV's teacher_accuracy; "" for none or a row recorded before
    the column was (its run on another machine)."""
    try:
        accs = json.loads(cell or "{}")
    except ValueError:
        return ""
    return ", ".join(f"{n} {a:.1f} %" for n, a in accs.items())


def _number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")
