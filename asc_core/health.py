"""Is a finished model a result, or a collapse? A network that predicts one scene for nearly every clip, or
whose accuracy is within noise of chance, looks like a row in a table unless something says otherwise.

``assess(metrics)`` runs at evaluation (it reads the confusion matrix) and its verdict is kept in the summary;
``warning(summary)`` is what the pages show beside such a run (older summaries: judged from per-class accuracy).
"""

from __future__ import annotations

import math

from asc_core.data.labels import SCENES

ONE_CLASS_SHARE = 0.8  # one scene predicted for at least this share of the test clips


def _chance_band(n: int, k: int = len(SCENES)) -> float:
    """Chance accuracy plus two binomial standard deviations, in % (10 % + 2σ for 10 classes)."""
    p = 1 / k
    return 100 * (p + 2 * math.sqrt(p * (1 - p) / max(n, 1)))


def assess(metrics: dict) -> dict:
    """{'collapsed': bool, 'why': str, 'top_share': float} from evaluation metrics (confusion, n, macro acc)."""
    conf = metrics.get("confusion") or []
    n = int(metrics.get("n") or sum(map(sum, conf)) or 0)
    predicted = [sum(row[j] for row in conf) for j in range(len(conf))] if conf else []
    top = max(range(len(predicted)), key=predicted.__getitem__) if predicted else None
    share = predicted[top] / n if predicted and n else 0.0
    acc = float(metrics.get("macro_accuracy") or 0.0)
    why = ""
    if share >= ONE_CLASS_SHARE:
        why = f"predicts '{SCENES[top]}' for {100 * share:.0f} % of the {n} test clips"
    elif acc <= _chance_band(n):
        why = f"macro accuracy {acc:.1f} % is within noise of chance (10 % ± {_chance_band(n) - 10:.1f} for {n} clips)"
    return {"collapsed": bool(why), "why": why, "top_share": round(share, 3)}


def warning(summary: dict | None) -> str | None:
    """One line for a collapsed run ('collapsed: predicts …; train longer or on more clips'), else None."""
    if not summary:
        return None
    h = summary.get("health")
    if h is None and summary.get("per_class"):  # summaries written before the verdict was kept
        accs = list(summary["per_class"].values())
        if max(accs) >= 90 and sorted(accs)[-2] <= 10:
            best = max(summary["per_class"], key=summary["per_class"].get)
            h = {"collapsed": True, "why": f"predicts '{best}' for nearly every clip"}
        elif (summary.get("macro_accuracy") or 0) <= _chance_band(900):
            h = {
                "collapsed": True,
                "why": f"macro accuracy {summary['macro_accuracy']:.1f} % is within noise of chance",
            }
    if not h or not h.get("collapsed"):
        return None
    return f"collapsed: {h['why']} — not a result; train for more steps (epochs, subset) or check the learning rate"
