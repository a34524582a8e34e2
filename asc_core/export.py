"""Exporting a finished run's deployed model: ONNX (checked against PyTorch with onnxruntime) or a
PyTorch state dict, each with a short inference example."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from asc_core.artifacts import load_run_model
from asc_core.models import input_shape

FORMATS = ("onnx", "state_dict")


def _meta(store, run_id: str, kind: str) -> dict:
    run = store.get_run(run_id)
    if run["status"] != "done":
        raise ValueError(f"run {run_id} is {run['status']}; only finished runs export")
    arts = store.artifacts(run_id)
    models = [k for k, a in arts.items() if str(a["path"]).endswith(".pt")]  # not metrics, logits or plots
    if kind not in models:
        raise ValueError(f"run {run_id} has no {kind!r} model (its models: {', '.join(models) or 'none'})")
    return arts[kind]


def _check_out(out: Path, fmt: str) -> Path:
    """The file to write: not a folder, in a folder that exists (nothing is created on the way)."""
    example = f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file path, e.g. {out / example}")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def export_run(store, run_id: str, fmt: str, out: str | Path, kind: str = "deployed") -> dict:
    """Write the model to ``out``; returns what was written (and, for ONNX, onnxruntime's max abs
    difference from PyTorch on a random batch)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    meta = _meta(store, run_id, kind)
    out = _check_out(Path(out), fmt)
    model = load_run_model(store, run_id, kind).eval()
    shape = list(input_shape(meta["model"]))
    info = {
        "run_id": run_id,
        "format": fmt,
        "path": str(out),
        "model": meta["model"],
        "width": meta.get("width"),
        "input": ["batch", *shape[1:]],
        "output": ["batch", 10],
    }
    if fmt == "onnx":
        x = torch.randn(4, *shape[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter: no onnxscript dependency needed
            torch.onnx.export(
                model,
                (x,),
                str(out),
                input_names=["logmel"],
                output_names=["logits"],
                dynamic_axes={"logmel": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
                opset_version=17,
            )
        import onnxruntime as ort

        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        with torch.inference_mode():
            ref = model(x).numpy()
        got = sess.run(None, {"logmel": x.numpy()})[0]
        info["max_abs_diff"] = float(np.abs(got - ref).max())
    else:
        torch.save(model.state_dict(), out)
        meta_path = out.with_suffix(".json")
        meta_path.write_text(
            json.dumps({k: meta[k] for k in ("model", "width", "kwargs", "folded") if k in meta}, indent=2)
        )
        info["meta"] = str(meta_path)
    info["bytes"] = out.stat().st_size
    info["example"] = inference_example(fmt, out.name, meta)
    return info


def inference_example(fmt: str, filename: str, meta: dict) -> str:
    """A short, runnable inference example for the exported file."""
    head = (
        "import soundfile as sf, torch, torchaudio\n"
        "from asc_core.data.features import FeatureConfig, log_mel\n\n"
        "wave, sr = sf.read('clip.wav', dtype='float32')       # 1 s, mono\n"
        "wave = torchaudio.functional.resample(torch.from_numpy(wave), sr, 32000)\n"
        "x = log_mel(FeatureConfig())(wave)[None, None]          # [1, 1, 256, 65]\n"
    )
    if fmt == "onnx":
        return head + (
            "\nimport onnxruntime as ort\n"
            f"sess = ort.InferenceSession('{filename}')\n"
            "logits = sess.run(None, {'logmel': x.numpy()})[0]\n"
            "print(logits.argmax(1))  # index into asc_core.data.labels.SCENES\n"
        )
    return head + (
        "\nimport json\nfrom asc_core.artifacts import load_model\n"
        f"model = load_model('{filename}', json.load(open('{Path(filename).with_suffix('.json')}')))"
        "  # pruned layers come back at their size\n"
        "print(model(x).argmax(1))\n"
    )
