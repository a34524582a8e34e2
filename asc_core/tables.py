"""The seeds' ablations run through the product itself: Tables II–V and device-specific fine-tuning.

``plan`` lists every run the tables need (one validated ExperimentConfig per table row × subset × seed), named
``"Table V · single 64→32 (same FT budget)"`` so the tables are read back from the runs by name. The recipe is
the ``quick`` preset's (Adam, cosine, KD λ 0.3, τ 2, two stored views) with its epochs scaled to the subset —
``epochs(subset) = max(3, round(12 × 25 / subset))``: 60 at 5 %, 12 at 25 %, 3 at 100 % — so every subset gets
about the same number of optimisation steps (a 5 % subset at 12 epochs gives too few to leave chance). The warm-up
was not scaled with them (one epoch: 2 % of a 5 % run, a third of a 100 % run); found after 71 runs had been
recorded under this recipe, it is kept (changing it changes every config digest) and said under the tables.

``collect`` writes one CSV row per finished run to ``docs/results/<table>.csv`` (config digest, seed, figures,
per-device and per-class accuracy, wall time, machine), merging with the rows already there, so the work
resumes on another machine; ``render`` turns the CSVs into ``docs/RESULTS.md`` (mean ± std over seeds, n per
cell, missing cells marked) with the Compare page's table code (``app.compare._paper_table``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
from collections import Counter
from pathlib import Path

import pandas as pd

from asc_core.config import ExperimentConfig, parse_config
from asc_core.data.labels import DEVICES
from asc_core.embedded.synth import dataset_tag
from asc_core.paths import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "docs" / "results"
TABLE_SUBSETS = (5, 25, 100)
TABLES = ("II", "III", "IV", "V", "device")

_TEACHER_OPTIM = {"epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 0.002, "warmup_epochs": 1}
_CNN = [{"model": {"name": "cp_resnet", "width": 32}}, {"model": {"name": "cp_mobile", "width": 64}}]
# PaSST-tiny at lr 0.001, as a teacher and alone (Table III): the paper's one sentence on training ("all models ...
# 0.01") is not taken literally for its transformer — PaSST's own recipes train with Adam(W) at 1e-4 (from scratch,
# assets/presets/teachers/passt-scratch.yaml) to 1e-5 (fine-tuning); 1e-3 is the highest of that family, for the
# tables' few epochs. Not measured at 0.01.
_TRANSFORMER = [{"model": {"name": "passt_tiny"}, "optim": {**_TEACHER_OPTIM, "lr": 0.001}}]
# Table IV's CNN pair once more, its teachers trained as the paper trains every model (Adam, lr 0.01, cosine — the
# students' recipe here; Han et al.: "all models, including the baseline systems, are trained for 150 epochs using
# the Adam optimizer ... the learning rate is linearly increased from 0 to 0.01"). The other teachers keep the quick
# preset's teacher recipe (lr 0.002), on which Tables IV and V were recorded before the paper's sentence was checked
# (changing it changes their configs); that recipe's CP-Mobile-64 teachers reach 40 % at 5 %, 11 points below the same
# network at lr 0.01 (Table III). This row measures what the teachers' recipe costs the student, beside the row it
# repeats.
_CNN_PAPER_LR = "CNN teachers at the paper's lr 0.01"
# The same teachers (the same zoo entries: a teacher's key holds its recipe and the stored views, not the student's
# loss), the student distilled with the paper's own loss: eq. (1), KL(teacher_k ‖ student) per teacher at τ = 0.1,
# averaged over the teachers (train/kd.py, ``paper``), at CP-JKU's λ = 0.02, which the ``paper`` preset takes (Han
# et al. give no λ). Every other KD row uses the quick preset's loss: CP-JKU's (τ 2, the teachers' mean logits, a
# mean over batch and classes) at λ 0.3, which weighs the labels about as much as the teachers (0.3 CE against
# 0.7·τ²/10 = 0.28 KL) where CP-JKU's λ 0.02 lets the teachers lead. At 5 % no KD row beat no KD; this row asks
# whether the loss is why.
_CNN_PAPER_KD = "CNN teachers at lr 0.01, the paper's KD loss"
_PAPER_KD = {"variant": "paper", "tau": 0.1, "lam": 0.02, "views": 2}
# And the quick recipe's loss (CP-JKU's, τ 2) at CP-JKU's own λ 0.02 instead of 0.3: the teachers lead as in the row
# above, with their soft targets kept. Beside the lr-0.01 row (λ 0.3) and the paper's loss, it tells the weight from
# the loss's form.
_CNN_CPJKU_LAM = "CNN teachers at lr 0.01, CP-JKU's λ 0.02"
_BRANCHES = {  # Table II: Rep-Mobile's training-time branches (the paper's four), KD off
    "all branches (3×3, 1×1, 3×1, 1×3)": ["3x3", "1x1", "3x1", "1x3"],
    "without 3×3": ["1x1", "3x1", "1x3"],
    "without 1×1": ["3x3", "3x1", "1x3"],
    "without 3×1 + 1×3": ["3x3", "1x1"],
}


# Table III's pretrained row (the paper's PaSST-PT), planned only where the AudioSet release is here (`teachers
# download passt_s_audioset`: 300 MB, never fetched at run time): PaSST-S from those weights, trained on the subset
# with the teacher recipe's learning rate and patchout (assets/presets/teachers/passt-audioset.yaml) at the table's
# epochs. Hours per run on a CPU (`bench teachers`): a GPU's row.
_PRETRAINED = "PaSST-S, AudioSet-pretrained"
# Every row trains for the same number of steps at every subset (the epochs scale as 25 / subset: 60 × 350 =
# 12 × 1,750 = 3 × 7,000 = 21,000 clips seen, about 330 steps of 64). PaSST-tiny from scratch stays at 28–30 % at all
# three subsets with its curves still rising: a flat row may be the step budget, not the data. This row trains the
# same transformer for 4× the steps (240 / 48 / 12 epochs) to tell the two apart. The paper trains every model for
# 150 epochs; on its 5 % (about 7,000 clips) that is 50× this budget.
_PASST_LONGER = "PaSST (tiny), from scratch, 4× the steps"


def _passt_pt() -> dict:
    from asc_core.config import teacher_recipe

    r = teacher_recipe("passt-audioset")
    kwargs = {**r["model"].get("kwargs", {}), "checkpoint": "audioset"}
    return {"student": {"name": r["model"]["name"], "kwargs": kwargs}, "optim": {"lr": r["optim"]["lr"]}}


def _audioset_present() -> bool:
    from asc_core.weights import AUDIOSET, WeightsError, check_present

    try:
        check_present(AUDIOSET)
        return True
    except WeightsError:
        return False


def epochs_for(subset: int, at_25: int = 12) -> int:
    return max(3, round(at_25 * 25 / subset))


def validate_every_for(subset: int, times: int = 1) -> int:
    """At most about 12 points on a learning curve, whatever the epochs (the quick preset's every 2nd epoch at 25
    and 100 %): at 5 % (60 epochs of 350 clips) validating on the 1,800 test clips every 2nd epoch (a teacher:
    every epoch) cost more than the training. It does not change what a run trains (the validation loader has its
    own generator; tests/train/test_pipeline.py), so ``result_key`` leaves it out."""
    return max(2, epochs_for(subset) * times // 12)


def _rows(table: str) -> dict[str, dict]:
    """Row label → config overrides (over the quick preset) for one table."""
    rep32 = {"student": {"name": "rep_mobile", "width": 32}}
    if table == "II":
        rows = {k: {"student": {"name": "rep_mobile", "width": 32, "kwargs": {"branches": b}}, "teachers": []}
                for k, b in _BRANCHES.items()}  # fmt: skip
        rows["plain CP-Mobile (no branches)"] = {"student": {"name": "dcase24_baseline", "width": 32}, "teachers": []}
        return rows
    if table == "III":  # each teacher trained alone, on its own recipe
        return {"CP-ResNet (ρ 8, width 32)": {"student": {"name": "cp_resnet", "width": 32}},
                "CP-Mobile, wide (width 64)": {"student": {"name": "cp_mobile", "width": 64}},
                "BC-ResNet": {"student": {"name": "bc_resnet"}},
                "PaSST (tiny), from scratch": {"student": {"name": "passt_tiny"}, "optim": {"lr": 0.001}},
                _PASST_LONGER: {"student": {"name": "passt_tiny"}, "optim": {"lr": 0.001}, "epochs_x": 4},
                **({_PRETRAINED: _passt_pt()} if _audioset_present() else {})}  # fmt: skip
    if table == "IV":
        cnn_lr01 = [{**t, "optim": {"lr": 0.01}} for t in _CNN]
        return {"no KD": {**rep32, "teachers": []},
                "CNN teachers (CP-ResNet + CP-Mobile-64)": {**rep32, "teachers": _CNN},
                "transformer teacher (PaSST tiny)": {**rep32, "teachers": _TRANSFORMER},
                "CNN + transformer teachers": {**rep32, "teachers": _CNN + _TRANSFORMER},
                _CNN_PAPER_LR: {**rep32, "teachers": cnn_lr01},
                _CNN_PAPER_KD: {**rep32, "teachers": cnn_lr01, "kd": _PAPER_KD},
                _CNN_CPJKU_LAM: {**rep32, "teachers": cnn_lr01, "kd": {"lam": 0.02}}}  # fmt: skip
    if table == "V":
        rows = {f"width {w}, unpruned": {"student": {"name": "rep_mobile", "width": w}} for w in (32, 64, 96)}
        for label, w, chain in (("single 64→32", 64, [32]), ("single 96→32", 96, [32])):
            rows[label] = {"student": {"name": "rep_mobile", "width": w}, "pruning": {"mode": "single", "chain": chain}}
        for label, ft in (
            ("progressive 96→64→32 (same FT budget)", "half"),
            ("progressive 96→64→32 (full FT per round)", "full"),
        ):
            rows[label] = {"student": {"name": "rep_mobile", "width": 96},
                           "pruning": {"mode": "progressive", "chain": [64, 32], "ft": ft}}  # fmt: skip
        return rows
    if table == "device":  # the DCASE2025 baseline's recipe: every parameter per training device, no MixStyle
        return {"general model → device-specific fine-tuning": {"device_finetune": {"enabled": True}}}
    raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")


def row_prunes(table: str, row: str) -> bool:
    """Whether a table's row prunes its student (Table V's single and progressive rows)."""
    return table in TABLES and "pruning" in _rows(table).get(row, {})


def _config(table: str, row: str, over: dict, subset: int, seed: int, dataset: str) -> ExperimentConfig:
    times = over.get("epochs_x", 1)  # a row that trains for a multiple of the table's steps
    epochs = epochs_for(subset) * times
    raw = {"preset": "quick", "dataset": dataset, "subset": subset, "seed": seed, "name": f"Table {table} · {row}"}
    raw |= {k: v for k, v in over.items() if k not in ("optim", "pruning", "teachers", "epochs_x")}
    every = validate_every_for(subset, times)
    raw["optim"] = {"epochs": epochs, "validate_every": every, **over.get("optim", {})}
    teachers = over.get("teachers")
    if teachers is not None:
        raw["teachers"] = [{"seed": seed, **t, "optim": {**_TEACHER_OPTIM, **t.get("optim", {}), "epochs": epochs,
                                                          "validate_every": every}}
                           for t in teachers]  # fmt: skip
    else:  # the quick preset's CP-ResNet, at this subset's epochs and this seed
        raw["teachers"] = [{"model": {"name": "cp_resnet", "width": 32}, "seed": seed,
                            "optim": {**_TEACHER_OPTIM, "epochs": epochs, "validate_every": every}}]  # fmt: skip
    if table in ("II", "III"):
        raw["teachers"] = []
    if "pruning" in over:
        p = dict(over["pruning"])
        rounds = len(p["chain"])
        full = max(1, epochs // 3)  # the quick presets fine-tune for a third of the training epochs per round
        p["finetune_epochs"] = full if p.pop("ft", "full") == "full" else max(1, full // rounds)
        raw["pruning"] = {"pruner": "l1", "schedule": "linear", "total_times": 4, "schedule_epochs": 1, **p}
    return parse_config(raw)


def plan(tables=TABLES, subsets=TABLE_SUBSETS, seeds: int = 2, dataset: str | None = None) -> list[dict]:
    """Every run the tables need: [{table, row, subset, seed, config}], validated."""
    from asc_core.paths import data_home

    dataset = dataset or str(data_home() / "standard")
    out = []
    for table in tables:
        for row, over in _rows(table).items():
            for subset in (25,) if table == "device" else subsets:
                for seed in range(seeds):
                    cfg = _config(table, row, over, subset, seed, dataset)
                    out.append({"table": table, "row": row, "subset": subset, "seed": seed, "config": cfg})
    _mark_same_runs(out)
    return out


def _mark_same_runs(items: list[dict]) -> None:
    """A row whose config at a subset is another row's but for its name gets ``same_as`` (that row) and no runs
    of its own: at 100 % (3 epochs) the two progressive rows both fine-tune one epoch per round — one config,
    which the plan used to run twice."""
    first: dict[tuple, str] = {}
    for i in items:
        key = (i["table"], i["subset"], i["seed"], result_key(i["config"].model_copy(update={"name": ""})))
        if first.setdefault(key, i["row"]) != i["row"]:
            i["same_as"] = first[key]


def runs_of(items: list[dict]) -> list[dict]:
    """The items that are runs (a ``same_as`` row shows another row's)."""
    return [i for i in items if not i.get("same_as")]


# ---------------------------------------------------------------- results kept in the repository
_FIELDS = ["table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy", "seen", "unseen",
           "params", "macs", "device_specific_macro_accuracy", "seconds", "machine", "per_device", "per_class",
           "per_device_specific", "teacher_accuracy", "pruning", "dataset"]  # fmt: skip


def result_key(cfg: ExperimentConfig, dataset: str | None = None) -> str:
    """The digest a result is kept under: the config without the dataset's folder, plus what the data is
    (``dataset_tag``: its name, and the embedded generator's version from 2 on) — the same run on another machine
    (its data elsewhere) is the same result, on another version of the embedded set it is not — and without
    ``validate_every``. ``dataset``: the tag, where it is known otherwise (a finished run's summary)."""
    import hashlib

    d = _without(cfg.model_dump(mode="json"), "validate_every")  # how often a curve is sampled, not what trains
    d["dataset"] = dataset or dataset_tag(d.get("dataset"))
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _version(tag: str) -> int:
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
    return max(counts, key=lambda t: (counts[t], _version(t))) if counts else dataset_tag("standard")


def _without(d, key: str):
    if isinstance(d, dict):
        return {k: _without(v, key) for k, v in d.items() if k != key}
    if isinstance(d, list):
        return [_without(v, key) for v in d]
    return d


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
            key = (_run_key(r), int(r["config"].get("seed", 0)))
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


def progress(table: str, tag: str | None = None, rows: dict | None = None) -> tuple[int, int]:
    """(runs recorded in the committed CSVs, runs planned) for one table on one dataset (default: the one shown), at
    the default plan (2 seeds)."""
    rows = recorded() if rows is None else rows
    items, tag = runs_of(plan([table], dataset="standard")), tag or shown_dataset(table, rows)
    return sum((result_key(i["config"], tag), i["seed"]) in rows for i in items), len(items)


def standing_words(table: str) -> str:
    """How far a table is, on which data, and a newer version under way that it does not show yet (RESULTS.md and
    the Learn page)."""
    rows = recorded()
    shown = shown_dataset(table, rows)
    done, planned = progress(table, shown, rows)
    words = f"{done} of {planned} runs recorded, {data_words(shown)}."
    newer = sorted({row_dataset(r) for r in rows.values() if r["table"] == table} - {shown}, key=_version)
    for tag in (t for t in newer if _version(t) > _version(shown)):
        words += (f" On `{tag}`, {progress(table, tag, rows)[0]} of {planned} so far: the table moves to them once "
                  "they are as many as these.")  # fmt: skip
    return words


def _run_key(run: dict) -> str | None:
    """A run's result key: on the data its summary names; a finished run without one is older than generator 2
    (its folder's bare name); a run not finished yet trains on its folder as it is now."""
    summary = run.get("summary") or {}
    tag = summary.get("dataset_tag") or (Path(run["config"].get("dataset") or "mini").name if summary else None)
    try:
        return result_key(parse_config(run["config"]), tag)
    except Exception:  # noqa: BLE001 — a run of an older config schema is simply not one of the tables'
        return None


def _machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{platform.node()} ({torch.cuda.get_device_name(0)})"
    return f"{platform.node()} (CPU, {os.cpu_count()} cores)"


def _markdown(df: pd.DataFrame) -> str:
    """A pipe table (pandas' own to_markdown needs the tabulate package, for this one use)."""
    head = ["", *map(str, df.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i), *map(str, r)]) + " |" for i, r in zip(df.index, df.to_numpy())]
    return "\n".join(lines)


def collect(store, items: list[dict]) -> int:
    """Finished runs of the plan → rows of docs/results/<table>.csv (merged by digest and seed). Rows written."""
    by_key = {(result_key(i["config"]), i["seed"]): i for i in runs_of(items)}
    rows = recorded()
    have_runs = {v["run_id"] for v in rows.values()}  # a run is one row, even if its digest was computed otherwise
    n, machine = 0, _machine()
    for r in store.list_runs("done"):
        key = (_run_key(r), int((r.get("config") or {}).get("seed", 0)))
        if key in rows and rows[key]["run_id"] == r["run_id"]:  # columns added after the row: filled from its run
            for col, fill in _LATER_COLUMNS.items():
                if not rows[key].get(col):
                    rows[key][col] = fill(r["summary"] or {})
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
                     **{col: fill(s) for col, fill in _LATER_COLUMNS.items()}}  # fmt: skip
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


def _rounded(v):
    return round(v, 2) if isinstance(v, float) else v


# Columns added after rows were recorded: collect fills them in from the run when it is in this machine's store
# (rows made elsewhere keep them empty), and every new row gets them.
_LATER_COLUMNS = {"teacher_accuracy": _teacher_accuracy, "pruning": _pruning}


def results_frame() -> pd.DataFrame:
    """The committed CSV rows as the Compare page's runs frame columns (name, status, cfg.subset, macro_acc)."""
    have = recorded()  # read once: the CSVs are read on every rerun of the Learn and Compare pages
    shown = {t: shown_dataset(t, have) for t in TABLES}
    rows = [{**r, "dataset": row_dataset(r)} for r in have.values() if row_dataset(r) == shown.get(r["table"])]
    df = pd.DataFrame(rows)
    if df.empty:
        return results_frame_empty()
    df["name"] = "Table " + df["table"] + " · " + df["row"]
    df["status"] = "done"
    df["cfg.subset"] = df["subset"].astype(int)
    df["macro_acc"] = pd.to_numeric(df["macro_accuracy"], errors="coerce")
    return df


def results_frame_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["name", "status", "cfg.subset", "macro_acc", "run_id", "table"])


def table_cells(df: pd.DataFrame, table: str, items: list[dict] | None = None) -> pd.DataFrame:
    """Rows × subsets, 'mean ± std (n=k)' or 'missing', by the Compare page's table code; rows in plan order."""
    from asc_core.aggregate import paper_table

    _, cells = paper_table(df, "name", lambda d: d["name"].str.startswith(f"Table {table} · "))
    order = [f"Table {table} · {r}" for r in _rows(table)]
    pretrained = f"Table III · {_PRETRAINED}"  # recorded on a machine with the weights: shown on one without
    order += [pretrained] if table == "III" and pretrained in cells.index and pretrained not in order else []
    cells = cells.reindex([o for o in order if o in cells.index] + [o for o in order if o not in cells.index])
    subsets = (25,) if table == "device" else TABLE_SUBSETS
    cells = cells[[f"{s} %" for s in subsets]].fillna("missing")
    cells.index = [i.split(" · ", 1)[1] for i in cells.index]
    for i in plan([table], subsets, 1, "standard"):
        col = f"{i['subset']} %"
        if i.get("same_as") and cells.loc[i["same_as"], col] != "missing":
            cells.loc[i["row"], col] = f"{cells.loc[i['same_as'], col]} (the runs above: one config here)"
    return cells


def cell_runs(table: str, row: str, subset: int) -> pd.DataFrame:
    """The committed runs behind one cell (a ``same_as`` row: the runs of the row it shows), one row per run with
    the Compare page's columns (name, run_id, status, macro_acc, seen, unseen, macs, seconds, machine, seed and
    ``acc.<device>``), so its per-device bars come from the CSV alone — the run itself may be on another machine."""
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
                    "teachers": _teachers_text(v.get("teacher_accuracy")),
                    "pruning": _json_list(v.get("pruning")),
                    **{f"acc.{d}": per_device.get(d) for d in DEVICES}})  # fmt: skip
    cols = ["name", "run_id", "status", "seed", "macro_acc", "seen", "unseen", "macs", "seconds", "machine",
            "teachers", "pruning"]  # fmt: skip
    return pd.DataFrame(out, columns=cols + [f"acc.{d}" for d in DEVICES]).sort_values("seed", ignore_index=True)


def _json_list(cell) -> list:
    """A CSV's JSON list (the pruning path); [] for none, a row recorded before the column, or a hand-edited cell."""
    try:
        v = json.loads(cell or "[]")
    except ValueError:
        return []
    return v if isinstance(v, list) else []


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


def render(path: Path | None = None) -> str:
    """docs/RESULTS.md from the committed CSVs."""
    from asc_core.paper_results import directions_text, with_paper

    df = results_frame()
    parts = ["# Results: the seeds' ablations, run by ASC Lab itself",
             "", "Generated by `python -m asc_core tables render` from `docs/results/*.csv` (one row per finished "
             "run). Macro accuracy (%) on the test split, mean ± std over seeds (n runs); `missing`: not run yet. "
             "Epochs scaled to the subset: " + ", ".join(f"{s} % → {epochs_for(s)}" for s in TABLE_SUBSETS) +
             "; the learning-rate warm-up stays one epoch, so it is a third of a 100 % run (under-trained there: "
             "read the 100 % column as the same number of steps, not as a model trained to convergence). "
             "Distillation (Tables IV, V, device): CP-JKU's loss (τ 2, on the teachers' mean logits) at λ 0.3, the "
             "quick preset's; the paper's own loss (eq. 1: KL per teacher at τ 0.1; λ 0.02, as Han et al. give none) "
             f"only in the row *{_CNN_PAPER_KD}*, and CP-JKU's loss at its own λ 0.02 in *{_CNN_CPJKU_LAM}*. "
             "`· paper`: the Rep-Mobile paper's figure for the row (Han et al., Tables II–V, on TAU22's development "
             "split — 20× the clips, real recordings: compare the direction between rows, not the level; "
             "`assets/paper_tables.csv`).",
             ""]  # fmt: skip
    old = [t for t in TABLES if shown_dataset(t) == "standard" and progress(t)[0]]
    if old:
        named = ", ".join(_TITLE_SHORT[t] for t in old[:-1]) + (" and " if len(old) > 1 else "") + _TITLE_SHORT[old[-1]]
        parts += [f"**Which data.** {named[0].upper() + named[1:]} show results on the embedded "
                  "`standard` set of generator 1. There, each of the devices b, c, s1, s2 and s3 recorded only two "
                  "scenes in training (its parallel captures went round the ten scenes and the five devices in step), "
                  "where in TAU22 each records all ten; the test set has every scene on every device. A model could "
                  "take a device for its scene, and the device-specific fine-tuning saw two classes per device. "
                  "Generator 2 spreads each device over every scene; results on it are kept apart (their "
                  "digests name the version), and a table moves to them once they are as many as its generator-1 "
                  "runs.", ""]  # fmt: skip
    titles = {"II": "Table II — Rep-Mobile branch ablation (width 32, no KD)",
              "III": "Table III — each teacher alone", "IV": "Table IV — teacher ensembles → Rep-Mobile-32",
              "V": "Table V — widths and pruning (KD from CP-ResNet)",
              "device": "Device-specific fine-tuning (25 %)"}  # fmt: skip
    for table in TABLES:
        cells = with_paper(table_cells(df, table), table)
        parts += [f"## {titles[table]}", "", standing_words(table), "", _markdown(cells), ""]
        if table == "device":
            parts += [_device_table(df), ""]
        verdicts = directions_text(table, df)
        if verdicts:
            parts += [verdicts, ""]
        if finding(table):
            parts += [finding(table), ""]
    machines = sorted(set(df["machine"])) if "machine" in df else []
    if machines:
        secs = pd.to_numeric(df["seconds"], errors="coerce").sum()
        parts += [f"{len(df)} runs on {', '.join(machines)}; {secs / 3600:.2f} h of training in all.", ""]
    text = "\n".join(parts)
    if path:
        path.write_text(text)
    return text


_TITLE_SHORT = {"II": "Table II", "III": "Table III", "IV": "Table IV", "V": "Table V",
                "device": "the device fine-tuning table"}  # fmt: skip


def data_words(tag: str) -> str:
    """The data a table's runs were made on, in words (RESULTS.md and the Learn page)."""
    if tag == "standard":
        return ("on the embedded `standard` set of generator 1, where b, c and s1–s3 each recorded two of the ten "
                "scenes (fixed in generator 2; a device could name the scene)")  # fmt: skip
    return f"on `{tag}`"


def finding(table: str) -> str:
    """What a table shows, written from its runs (``docs/results/findings/<table>.md``), or ""."""
    path = RESULTS_DIR / "findings" / f"{table}.md"
    return path.read_text().strip() if path.exists() else ""


def device_means(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(devices × [general, device-specific] mean accuracy (%), runs) of the device fine-tuning table."""
    d = df[df.get("table", pd.Series(dtype=str)) == "device"] if not df.empty else df
    if d.empty:
        return pd.DataFrame(columns=["general", "device-specific"]), 0
    gen = pd.DataFrame([json.loads(x) for x in d["per_device"]]).mean()
    spec = pd.DataFrame([json.loads(x) for x in d["per_device_specific"]]).mean()
    return pd.DataFrame({"general": gen, "device-specific": spec}).reindex(DEVICES), len(d)


def finding_parts(table: str) -> tuple[str, str]:
    """(headline, the rest) of a table's finding: the headline is its first paragraph when that is one line
    starting with "In one line:" (what the Learn page shows above the figure), else ""."""
    text = finding(table)
    first, _, rest = text.partition("\n\n")
    if first.startswith("In one line:") and "\n" not in first:
        return first.removeprefix("In one line:").strip(), rest.strip()
    return "", text


def _device_table(df: pd.DataFrame) -> str:
    means, n = device_means(df)
    if not n:
        return "Per device: missing."
    return f"Per device, mean over {n} runs:\n\n" + _markdown(means.round(1).T)


def reference_row(table: str) -> str:
    """The row a table's others are read against (its first: all branches, CP-ResNet, no KD, width 32)."""
    return next(iter(_rows(table)))
