"""Comparing runs: the runs table (config flattened to columns), differing columns, Pareto front,
data-efficiency curves, mean ± std over seeds, the seed papers' Tables IV and V regenerated from the runs
that exist (missing cells marked, configs to fill them), per-device confusion, CSV/LaTeX export."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from asc_core import health, teacher_lead
from asc_core.aggregate import config_columns, paper_table  # noqa: F401  (config_columns: the page's, too)
from asc_core.data.labels import DEVICES, SCENES, TRAIN_DEVICES


def teachers_label(config: dict) -> str:
    names = sorted(t["model"]["name"] for t in config.get("teachers") or [])
    return " + ".join(names) if names else "none"


def strategy_label(config: dict) -> str:
    """'width 64', 'single 64→32', 'progressive 96→64→32', 'single 64→budget'."""
    s, p = config.get("student") or {}, config.get("pruning") or {}
    w = s.get("width")
    start = f"{w}" if w else s.get("name", "?")
    if (p.get("mode") or "none") == "none":
        return f"width {w}" if w else "unpruned"
    chain = [str(x) for x in p.get("chain") or []] + (["budget"] if p.get("budget") else [])
    return f"{p['mode']} " + "→".join([start, *chain])


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run: ids, status, group, config fields as dotted columns, and the results."""
    rows = []
    for r in runs:
        cfg = r.get("config") or {}
        s = r.get("summary") or {}
        flat = pd.json_normalize({k: v for k, v in cfg.items() if k != "teachers"}, sep=".").iloc[0].to_dict()
        flat = {f"cfg.{k}": (str(v) if isinstance(v, (list, dict)) else v) for k, v in flat.items()}
        flat["cfg.teacher_specs"] = json.dumps(cfg.get("teachers") or [], sort_keys=True)  # a factor like any other
        cx = s.get("complexity") or {}
        row = {
            "run_id": r["run_id"],
            "name": r.get("name") or "",
            "group": r.get("group_name") or "",
            "status": r["status"],
            "created": pd.to_datetime(r.get("created_at"), unit="s"),
            "teachers": teachers_label(cfg),
            "strategy": strategy_label(cfg),
            "strategy_row": f"{strategy_label(cfg)} · teachers: {teachers_label(cfg)}",
            "ensemble": f"{teachers_label(cfg)} → {(cfg.get('student') or {}).get('name')} "
            f"{(cfg.get('student') or {}).get('width') or ''}".strip(),
            **flat,
            "macro_acc": s.get("macro_accuracy"),
            "seen_acc": s.get("seen"),
            "unseen_acc": s.get("unseen"),
            "params": cx.get("params"),
            "macs": cx.get("macs"),
            "bytes_fp16": (cx.get("bytes") or {}).get("fp16"),
            "meets_dcase": cx.get("meets_dcase"),
            "seconds": s.get("seconds"),
            "device_specific_acc": (s.get("device_specific") or {}).get("macro_accuracy"),
            "warning": health.warning(s) or "",
        }
        for d in DEVICES:
            row[f"acc.{d}"] = (s.get("per_device") or {}).get(d)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(
            columns=["run_id", "name", "group", "status", "teachers", "strategy", "macro_acc", "params", "macs"]
        )
    return df


def differing_columns(df: pd.DataFrame) -> list[str]:
    """Config columns whose value is not the same in every row (the 'diff only' toggle)."""
    return [c for c in config_columns(df) if df[c].astype(str).nunique(dropna=False) > 1]


def filter_runs(df: pd.DataFrame, filters: dict[str, list]) -> pd.DataFrame:
    """Keep rows whose column value is among the chosen values (values compared as text)."""
    mask = pd.Series(True, index=df.index)
    for col, values in filters.items():
        if values:
            mask &= df[col].astype(str).isin([str(v) for v in values])
    return df[mask]


def pareto_mask(macs, acc) -> np.ndarray:
    """True where no other point has fewer-or-equal MACs and higher-or-equal accuracy (one strictly)."""
    macs, acc = np.asarray(macs, float), np.asarray(acc, float)
    out = np.zeros(len(macs), dtype=bool)
    order = np.lexsort((-acc, macs))  # by MACs, then best accuracy first
    best = -np.inf
    for i in order:
        if acc[i] > best:
            out[i], best = True, acc[i]
    return out


def _factor_key(df: pd.DataFrame, drop: set[str]) -> pd.Series:
    cols = [c for c in config_columns(df) if c[4:] not in drop]
    return df[cols].astype(str).agg(" | ".join, axis=1) if cols else pd.Series("", index=df.index)


def seed_stats(df: pd.DataFrame, value: str = "macro_acc") -> pd.DataFrame:
    """Mean ± std of ``value`` over runs that differ only in their seed."""
    done = df[(df["status"] == "done") & df[value].notna()].copy()
    if done.empty:
        return pd.DataFrame(columns=["config", "runs", "mean", "std"])
    done["config"] = _factor_key(done, {"seed"})
    g = done.groupby("config")[value]
    out = pd.DataFrame({"runs": g.size(), "mean": g.mean(), "std": g.std(ddof=1)}).reset_index()
    out["example"] = done.groupby("config")["run_id"].first().values
    return out


def data_efficiency(df: pd.DataFrame) -> pd.DataFrame:
    """Accuracy vs subset per configuration (runs equal but for subset and seed): mean, std, n."""
    done = df[(df["status"] == "done") & df["macro_acc"].notna()].copy()
    if done.empty:
        return pd.DataFrame(columns=["configuration", "subset", "mean", "std", "runs"])
    done["configuration"] = done["strategy"] + " · teachers: " + done["teachers"]
    key = _factor_key(done, {"seed", "subset"})
    # equal labels for different remaining factors get a short suffix so curves never mix
    labels = {}
    for k, lab in zip(key, done["configuration"]):
        labels.setdefault(lab, {}).setdefault(k, len(labels[lab]))
    done["configuration"] = [
        lab if len(labels[lab]) == 1 else f"{lab} #{labels[lab][k] + 1}" for k, lab in zip(key, done["configuration"])
    ]
    g = done.groupby(["configuration", "cfg.subset"])["macro_acc"]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "runs": g.size()}).reset_index()
    return out.rename(columns={"cfg.subset": "subset"})


# ---------------------------------------------------------------- Tables IV and V
def table_iv(df: pd.DataFrame):
    """Teacher ensembles (→ student and width) × subsets, unpruned students: the Rep-Mobile paper's Table IV."""
    return paper_table(df, "ensemble", lambda d: d["strategy"].str.startswith(("width", "unpruned")))


def table_v(df: pd.DataFrame):
    """Pruning strategies (with their teachers) × subsets — widths without pruning, single-step,
    progressive — for Rep-Mobile students: the Rep-Mobile paper's Table V."""
    return paper_table(df, "strategy_row", lambda d: d["cfg.student.name"] == "rep_mobile")


_NOT_KD = ("name", "teachers", "kd")  # what a run with teachers and its twin without may differ in


def _kd_words(cfg: dict) -> str:
    kd = cfg.get("kd") or {}
    loss = "the paper's loss" if kd.get("variant") == "paper" else "CP-JKU's loss"
    return f"{loss}, τ {kd.get('tau', 2.0):g}, λ {kd.get('lam', 0.02):g}"


def teacher_lead_pairs(runs: list[dict]) -> pd.DataFrame:
    """The same pairs from a run store's finished runs (``Store.list_runs``): each run with teachers against the
    finished run whose config is the same but for its teachers, its KD loss and its name (the same student, recipe,
    data, subset and seed): ``teacher_lead.PAIR_COLUMNS``. A row is the teachers and the loss (``teachers_label``,
    then τ and λ)."""
    items = []
    for r in runs:
        cfg, s = r.get("config") or {}, r.get("summary") or {}
        if r.get("status") != "done" or s.get("macro_accuracy") is None:
            continue
        key = json.dumps({k: v for k, v in cfg.items() if k not in _NOT_KD}, sort_keys=True, default=str)
        named = [(n, a) for n, a in zip(s.get("teachers") or [], s.get("teacher_accuracy") or []) if a is not None]
        items.append({"key": key, "subset": cfg.get("subset"), "seed": cfg.get("seed"),
                      "row": f"{teachers_label(cfg)} ({_kd_words(cfg)})", "acc": float(s["macro_accuracy"]),
                      "teachers": named, "base": not cfg.get("teachers")})  # fmt: skip
    return teacher_lead.pairs_of(items)


def fill_configs(df: pd.DataFrame, runs: list[dict], row_col: str, cells: pd.DataFrame) -> list[dict]:
    """Configs that would fill a table's missing cells: each row's most recent done run, moved to the
    missing subset (a pruning run that reused a trained student trains its own instead)."""
    by_id = {r["run_id"]: r for r in runs}
    out = []
    for row in cells.index:
        missing = [int(c.split()[0]) for c in cells.columns if cells.loc[row, c] == "missing"]
        if not missing:
            continue
        src = df[(df[row_col] == row) & (df["status"] == "done")].sort_values("created").iloc[-1]
        base = by_id[src["run_id"]]["config"]
        for s in missing:
            cfg = {k: v for k, v in base.items()}
            cfg["subset"] = s
            cfg["name"] = f"{row} · {s} %"
            student = dict(cfg["student"])
            if student.get("init_from"):
                src_cfg = (by_id.get(student["init_from"]) or {}).get("config") or {}
                student["init_from"] = None
                cfg["optim"] = dict(cfg["optim"]) | {"epochs": (src_cfg.get("optim") or {}).get("epochs", 10)}
            cfg["student"] = student
            out.append(cfg)
    return out


# ---------------------------------------------------------------- confusion, per device
def confusion_matrix(pred: pd.DataFrame, device: str | None = None, normalize: bool = True) -> np.ndarray:
    """Rows: true scene; columns: predicted scene; row-normalised to % when ``normalize``."""
    p = pred if device in (None, "all") else pred[pred["device"] == device]
    m = np.zeros((len(SCENES), len(SCENES)))
    np.add.at(m, (p["y_true"].to_numpy(int), p["y_pred"].to_numpy(int)), 1)
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.nan_to_num(100 * m / m.sum(1, keepdims=True))
    return m


def per_device_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Long table: run, device, accuracy, seen/unseen — for the per-device bars."""
    rows = []
    for _, r in df[df["status"] == "done"].iterrows():
        for d in DEVICES:
            v = r.get(f"acc.{d}")
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                rows.append(
                    {
                        "run": f"{r['name'] or r['run_id']} ({r['run_id'][-4:]})",
                        "device": d,
                        "accuracy": v,
                        "seen": "seen in training" if d in TRAIN_DEVICES else "unseen (s4–s6)",
                    }
                )
    return pd.DataFrame(rows, columns=["run", "device", "accuracy", "seen"])


# ---------------------------------------------------------------- export
def to_csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=True).encode()


def to_latex(df: pd.DataFrame, caption: str = "") -> str:
    """A booktabs table (pandas' Styler), values as shown."""
    body = df.copy()
    body.index = body.index.map(lambda v: _latex_text(str(v)))
    body.columns = [_latex_text(str(c)) for c in body.columns]
    styler = body.style.format(na_rep="--", precision=1)
    return styler.to_latex(hrules=True, caption=caption or None, position_float="centering")


def _latex_text(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("→", r"$\to$"),
        ("±", r"$\pm$"),
        ("·", r"$\cdot$"),
    ):
        s = s.replace(a, b)
    return s
