"""Numbers behind the Learn page's widgets (no Streamlit): temperature-softened distributions and the
KD loss as τ and λ change; a one-channel Rep-Mobile block to fold by hand; the pruned runs to contrast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from asc_core.data.labels import SCENES
from asc_core.train.kd import kd_loss

# A plausible teacher's logits for a metro-station clip: sure of metro_station, tram and metro close.
EXAMPLE_TEACHER = np.array([-1.0, 0.2, 0.5, 4.0, -0.5, -1.5, 0.0, -2.0, 2.5, 2.0], dtype=np.float32)
EXAMPLE_STUDENT = np.array([0.5, 0.0, 0.3, 2.0, 0.2, -0.5, 0.4, -0.8, 0.6, 1.4], dtype=np.float32)


def softened(logits: np.ndarray, tau: float) -> np.ndarray:
    z = np.asarray(logits, np.float64) / tau
    e = np.exp(z - z.max())
    return e / e.sum()


def entropy_bits(p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1)
    return float(-(p * np.log2(p)).sum())


def kd_terms(
    student: np.ndarray, teacher: np.ndarray, label: int, lam: float, tau: float, variant: str = "cpjku"
) -> dict:
    """The loss of one clip, split into its label (CE) and distillation (KD) terms, via the trainer's kd_loss."""
    s = torch.tensor(student)[None]
    t = torch.tensor(teacher)[None, None]
    loss, parts = kd_loss(s, torch.tensor([label]), t, lam, tau, variant)
    return {"loss": float(loss), **parts}


def kd_curve(
    student, teacher, label: int, lam: float, taus=np.linspace(0.5, 10, 40), variant: str = "cpjku"
) -> pd.DataFrame:
    rows = [{"tau": float(t), **kd_terms(student, teacher, label, lam, float(t), variant)} for t in taus]
    return pd.DataFrame(rows)


def distribution_frame(teacher, tau: float) -> pd.DataFrame:
    """Long form (scene, temperature, probability): one series per temperature, each summing to 1."""
    wide = pd.DataFrame({"scene": SCENES, "τ = 1 (as the teacher says)": softened(teacher, 1.0),
                         f"τ = {tau:g} (what the student learns from)": softened(teacher, tau)})  # fmt: skip
    return wide.melt("scene", var_name="temperature", value_name="probability")


def tiny_rep_block(seed: int, branches=("3x3", "1x1", "3x1", "1x3", "identity")):
    """A one-channel Rep-Mobile depthwise block with random weights and BatchNorm statistics, wrapped so
    that it is module "0" (what ``model_views.fold_view`` takes)."""
    from asc_core.app.model_views import randomise_bn
    from asc_core.models.rep_mobile import RepDepthwise

    torch.manual_seed(seed)
    return randomise_bn(torch.nn.Sequential(RepDepthwise(1, branches=branches)), seed).eval()


def pruned_runs(runs: list[dict]) -> pd.DataFrame:
    """Finished pruned runs with their strategy, final size and accuracy (for single vs progressive)."""
    from asc_core.app.compare import strategy_label

    rows = []
    for r in runs:
        s = r.get("summary") or {}
        if r["status"] == "done" and s.get("pruning_rounds"):
            rows.append(
                {
                    "run_id": r["run_id"],
                    "strategy": strategy_label(r["config"]),
                    "subset": r["config"]["subset"],
                    "rounds": len(s["pruning_rounds"]),
                    "params": s["complexity"]["params"],
                    "MACs": s["complexity"]["macs"],
                    "macro acc": round(s["macro_accuracy"], 1),
                    "acc before pruning": round(s["pruning_rounds"][0]["accuracy_before"], 1),
                }
            )
    return pd.DataFrame(rows)


def cell_table(cell: pd.DataFrame) -> pd.DataFrame:
    """The runs behind a results cell (``table_record.cell_runs``) as the Learn page lists them: plain column names
    with units, accuracies to one decimal."""
    cols = ["seed", "run_id", "macro_acc", "seen", "unseen", "macs", "seconds", "machine", "threads", "cpu_share",
            "teachers"]  # fmt: skip
    out = cell[cols].copy()
    out[["macro_acc", "seen", "unseen"]] = out[["macro_acc", "seen", "unseen"]].round(1)
    out["macs"] = (out["macs"] / 1e6).round(2)
    out["seconds"] = out["seconds"].round(0)
    out["threads"] = out["threads"].astype("Int64")  # whole threads; empty where the row predates the record
    return out.rename(columns={"run_id": "run", "macro_acc": "macro accuracy (%)", "seen": "seen devices (%)",
                               "unseen": "unseen devices s4–s6 (%)", "macs": "M MACs",
                               "seconds": "training (s)", "threads": "CPU threads",
                               "cpu_share": "share of its threads' CPU time",
                               "teachers": "its teachers alone (%)"})  # fmt: skip


def pruning_paths(cell: pd.DataFrame) -> pd.DataFrame:
    """The pruned runs of a results cell (``table_record.cell_runs``), step by step: seed, step, accuracy (%), kind
    ("trained" / "right after the cut" / "fine-tuned"). Empty when none kept its path (rows recorded before the
    CSVs had the column, on a machine whose store is gone)."""
    out = []
    for seed, rounds in zip(cell["seed"], cell["pruning"]):
        if not rounds:
            continue
        out.append({"seed": seed, "step": "trained wide", "accuracy": rounds[0].get("before"), "kind": "trained"})
        for r in rounds:
            out.append({"seed": seed, "step": f"cut to {r['target']}", "accuracy": r.get("after_pruning"),
                        "kind": "right after the cut"})  # fmt: skip
            out.append({"seed": seed, "step": f"fine-tuned at {r['target']}", "accuracy": r.get("after_finetune"),
                        "kind": "fine-tuned"})  # fmt: skip
    return pd.DataFrame(out, columns=["seed", "step", "accuracy", "kind"])


# ---------------------------------------------------------------- 4. the evidence: the seeds' tables, run here
EVIDENCE_VIEWS = ("gain over the first row", "accuracy per subset")


def evidence_figure(results: pd.DataFrame, table: str, view: str):
    """A table's figure beside the paper's: each row's gain over the table's reference row (``EVIDENCE_VIEWS[0]``)
    or accuracy against the subset; None while nothing of it is recorded. The device table: general vs
    device-specific accuracy per device."""
    from asc_core import paper_results as pr
    from asc_core import table_report, tables
    from asc_core.app.plots import per_device_figure, vs_paper_figure, vs_paper_gain_figure
    from asc_core.data.labels import TRAIN_DEVICES

    if table == "device":
        means, n = table_report.device_means(results)
        if not n:
            return None
        long = means.rename_axis("device").reset_index().melt("device", var_name="run", value_name="accuracy")
        long["run"] += f" (mean of {n} runs)"
        long["seen"] = ["seen in training" if d in TRAIN_DEVICES else "unseen (s4–s6)" for d in long["device"]]
        return per_device_figure(long)
    long = pr.comparison(table, results)
    if not (long["source"] == pr.OURS).any():
        return None
    ref = tables.reference_row(table)
    gains = pr.gains(long, ref)
    if view == EVIDENCE_VIEWS[0] and (gains["source"] == pr.OURS).any():  # else: the reference row is not run yet
        return vs_paper_gain_figure(gains, pr.OURS, pr.PAPER, ref)
    return vs_paper_figure(long, pr.OURS, pr.PAPER)


def directions_table(d: pd.DataFrame) -> pd.DataFrame:
    """``paper_results.directions`` as shown: subset in %, gains in points with their sign, runs, p-value and q."""
    from asc_core import paper_results as pr

    return pd.DataFrame({"row": d["row"], "subset": [f"{s} %" for s in d["subset"]],
                         "ours (points)": [f"{g:+.1f} ± {s:.1f}" for g, s in zip(d["ours"], d["spread"])],
                         "n": d["n"], "p (Welch)": [pr.p_words(p) for p in d["p"]],
                         "q (BH)": [pr.p_words(q) for q in d["q"]],
                         "paper (points)": ["–" if pd.isna(p) else f"{p:+.2f}" for p in d["paper"]],
                         "verdict": d["verdict"], "size, where it agrees": d["size"]})  # fmt: skip
