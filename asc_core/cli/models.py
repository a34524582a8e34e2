"""``models`` and ``complexity``: the model zoo and its DCASE figures."""

from __future__ import annotations

from asc_core.cli._common import _emit


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


def register(sub) -> None:
    m = sub.add_parser("models", help="the registered models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    cx = sub.add_parser("complexity", help="params, MACs, bytes and the DCASE verdict of a model")
    cx.add_argument("--model", required=True)
    cx.add_argument("--width", type=int, default=None)
    cx.add_argument("--layers", action="store_true", help="per-layer table")
    cx.add_argument("--json", action="store_true")
    cx.set_defaults(func=cmd_complexity)
