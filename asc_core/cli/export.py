"""``export``: a finished run's deployed model as ONNX or a state dict."""

from __future__ import annotations

from asc_core.cli._common import _emit


def cmd_export(a) -> int:
    from asc_core.export import export_run
    from asc_core.store import Store

    info = export_run(Store(a.runs), a.run, a.format, a.out, a.kind)
    text = f"{info['path']}: {info['format']}, {info['bytes']:,} bytes, input {info['input']}"
    if "max_abs_diff" in info:
        text += f"; onnxruntime vs PyTorch max abs diff {info['max_abs_diff']:.2e}"
    _emit(info, a.json, text + "\n\n" + info["example"])
    return 0


def register(sub) -> None:
    ex = sub.add_parser("export", help="a finished run's deployed model as ONNX or a PyTorch state dict")
    ex.add_argument("run")
    ex.add_argument("--format", choices=["onnx", "state_dict"], default="onnx")
    ex.add_argument("--out", required=True)
    ex.add_argument("--kind", default="deployed", help="which model of the run (deployed, student, device_a, ...)")
    ex.add_argument("--runs", default=None)
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(func=cmd_export)
