"""Table V of the Rep-Mobile paper, measured on an embedded set: widths 32/64/96 without pruning,
single-step 64→32 and 96→32, progressive 96→64→32 — quick epochs, one teacher (the quick preset's).

    python scripts/table5.py --dataset data/standard --subset 25

The pruning runs start from the unpruned wide runs' students (``student.init_from``), so the wide rows
and the pruning rows share their trained students; single-step fine-tunes 4 epochs, progressive 2 per
round (the same fine-tuning budget). Prints the table and writes it as JSON next to the run store.
"""

import argparse
import json

from asc_core.config import parse_config
from asc_core.store import Store
from asc_core.train.runner import run_experiment

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="data/standard")
p.add_argument("--subset", type=int, default=25)
p.add_argument("--group", default="table5")
a = p.parse_args()
store = Store()
base = {"preset": "quick", "dataset": a.dataset, "subset": a.subset}
prune = {"pruner": "l1", "schedule": "linear", "total_times": 4, "schedule_epochs": 1}
rows, ids = [], {}


def run(label, over):
    cfg = parse_config(base | {"name": f"table5 {label}"} | over)
    rid = store.create_run(cfg.model_dump(mode="json"), name=cfg.name, group=a.group, config_hash=cfg.digest())
    s = run_experiment(cfg, store, rid, echo=lambda m: print(f"[{label}] {m}", flush=True))
    if s["status"] != "done":
        raise SystemExit(f"{label}: {s}")
    cx = s["complexity"]
    rows.append(
        {
            "row": label,
            "macro_acc": round(s["macro_accuracy"], 1),
            "params": cx["params"],
            "macs": cx["macs"],
            "seen": round(s["seen"], 1),
            "unseen": round(s["unseen"], 1),
            "seconds": s["seconds"],
            "run_id": rid,
            "rounds": [
                (
                    r["target"],
                    r["params"],
                    r["macs"],
                    round(r["accuracy_after_pruning"], 1),
                    round(r["accuracy_after_finetune"], 1),
                )
                for r in s["pruning_rounds"]
            ],
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    ids[label] = rid


def from_wide(w):
    return {"student": {"name": "rep_mobile", "width": w, "init_from": ids[f"width {w}"]}, "optim": {"epochs": 0}}


run("width 32", {"student": {"name": "rep_mobile", "width": 32}})
run("width 64", {"student": {"name": "rep_mobile", "width": 64}})
run("single 64→32", from_wide(64) | {"pruning": prune | {"mode": "single", "chain": [32], "finetune_epochs": 4}})
run("width 96", {"student": {"name": "rep_mobile", "width": 96}})
run("single 96→32", from_wide(96) | {"pruning": prune | {"mode": "single", "chain": [32], "finetune_epochs": 4}})
run(
    "progressive 96→64→32",
    from_wide(96) | {"pruning": prune | {"mode": "progressive", "chain": [64, 32], "finetune_epochs": 2}},
)
out = store.root / f"{a.group}.json"
out.write_text(json.dumps(rows, indent=2))
for r in rows:
    print(
        f"{r['row']:>24}  {r['macro_acc']:5.1f} %  {r['params']:>8,} params  {r['macs'] / 1e6:6.1f} M MACs  "
        f"seen {r['seen']:.1f}  unseen {r['unseen']:.1f}  {r['seconds']:.0f} s"
    )
