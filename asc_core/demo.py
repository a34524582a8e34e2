"""Finished runs to explore before anything has trained: a bundle made by real runs, loaded into any store.

``make_bundle`` runs the ``demo``, ``quick`` and ``quick-single`` presets on the embedded ``mini`` set (seed 0,
the set every machine generates identically) into a store of its own and keeps only what the pages read — the
run rows, metrics, predictions and the models' state dicts (no checkpoints, no teacher logits). The repository
ships one in ``assets/demo_runs`` (``scripts/make_demo_bundle.py``: about ten minutes on 2 CPU cores).
``load_bundle`` copies its runs into a store (group "demo bundle", names prefixed "demo · "); runs already there
are skipped, so loading twice adds nothing.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from asc_core.paths import ASSETS
from asc_core.store import KEYS
from asc_core.store_backends import upsert

BUNDLE = ASSETS / "demo_runs"
PRESETS = ("demo", "quick", "quick-single")
_TABLES = ("metrics", "predictions", "artifacts", "problems")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def make_bundle(out: Path = BUNDLE, presets=PRESETS, echo=print, **over) -> list[str]:
    """Run ``presets`` into a fresh store at ``out`` (replacing it) and strip it to what the pages read.
    ``over``: config keys over each preset (tests: a small dataset, one epoch)."""
    from asc_core.config import parse_config
    from asc_core.store import Store
    from asc_core.train.runner import run_experiment

    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    store = Store(out, url="")  # a bundle is one SQLite file, whatever store this machine uses
    ids = []
    for p in presets:
        echo(f"running the {p} preset …")
        summary = run_experiment(parse_config({"preset": p, **over}), store)
        if summary["status"] != "done":
            raise RuntimeError(f"demo preset {p} did not finish: {summary.get('error')}")
        ids.append(summary["run_id"])
        echo(f"  {p}: macro accuracy {summary['macro_accuracy']:.1f} % in {summary['seconds']:.0f} s")
    _strip(store, ids)
    return ids


def _strip(store, ids: list[str]) -> None:
    """Keep the models (.pt), drop checkpoints, the teacher zoo, the parents, logs and the queue (and the rows naming
    them)."""
    for run_id in ids:
        for d in (store.root / run_id).iterdir():
            if d.is_dir():
                shutil.rmtree(d)
    from asc_core.train.teachers import zoo_dir

    shutil.rmtree(zoo_dir(store), ignore_errors=True)  # teachers' checkpoints and logits: not what pages read
    for cache in ("parents", "locks"):  # trained parents kept for pruning runs (a cache), and the store's lock files
        shutil.rmtree(store.root / cache, ignore_errors=True)
    for extra in ("queue.db", "queue.db-wal", "queue.db-shm"):
        (store.root / extra).unlink(missing_ok=True)
    with store.tx() as con:
        con.execute("DELETE FROM teachers")
        con.execute("DELETE FROM workers")
        for a in con.execute("SELECT run_id, kind, path FROM artifacts").fetchall():  # recorded relative already
            if not (store.root / a["path"]).exists():
                con.execute("DELETE FROM artifacts WHERE run_id=? AND kind=?", (a["run_id"], a["kind"]))
    con = sqlite3.connect(store.db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")
    con.execute("PRAGMA journal_mode=DELETE")  # one file to ship: no -wal/-shm beside it
    con.close()


def bundle_available(bundle: Path = BUNDLE) -> bool:
    return (Path(bundle) / "asc.db").exists()


def load_bundle(store, bundle: Path = BUNDLE) -> list[str]:
    """Copy the bundle's finished runs into ``store``; the ids added (none when they are there already)."""
    src_db = Path(bundle) / "asc.db"
    if not src_db.exists():
        raise FileNotFoundError(f"no demo bundle at {bundle} (make one: python scripts/make_demo_bundle.py)")
    src = sqlite3.connect(f"file:{src_db}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    try:
        have = {r["run_id"] for r in store.list_runs()}
        runs = [dict(r) for r in src.execute("SELECT * FROM runs WHERE status='done'") if r["run_id"] not in have]
        added = []
        with store.tx() as con:
            # only the destination's own column names ever reach the SQL text (a bundle is data, never code)
            known = {t: store.db.columns(con, t) for t in ("runs", *_TABLES)}
            cols = known["runs"]
            for r in runs:
                if not _RUN_ID.fullmatch(str(r["run_id"])):
                    raise ValueError(f"demo bundle {bundle}: bad run id {str(r['run_id'])[:80]!r}")
                r = {k: v for k, v in r.items() if k in cols}
                r["name"] = f"demo · {r['name'] or r['run_id']}"
                r["group_name"] = "demo bundle"
                con.execute(f"INSERT INTO runs({', '.join(r)}) VALUES ({', '.join('?' * len(r))})", list(r.values()))
                for table in _TABLES:
                    rows = [dict(x) for x in src.execute(f"SELECT * FROM {table} WHERE run_id=?", (r["run_id"],))]
                    for x in rows:
                        x = {k: v for k, v in x.items() if k in known[table]}
                        if table == "artifacts":  # files copied below, beside the store's own runs
                            path = (store.root / x["path"]).resolve()
                            if not path.is_relative_to((store.root / r["run_id"]).resolve()):
                                raise ValueError(f"demo bundle {bundle}: artifact outside its run: {x['path']!r}")
                            x["path"] = str(path.relative_to(store.root.resolve()))
                        con.execute(upsert(table, tuple(x), KEYS[table]), list(x.values()))
                added.append(r["run_id"])
        for run_id in added:
            shutil.copytree(Path(bundle) / run_id, store.root / run_id, dirs_exist_ok=True)
        return added
    finally:
        src.close()
