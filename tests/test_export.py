"""Export: a finished run's deployed model as ONNX matches PyTorch under onnxruntime; the state dict
reloads; unfinished runs and unknown formats are refused clearly."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from asc_core.artifacts import load_model, load_run_model
from asc_core.config import parse_config
from asc_core.data import open_dataset
from asc_core.data.features import FeatureConfig, log_mel
from asc_core.export import export_run
from asc_core.store import Store
from asc_core.train.runner import run_experiment
from tests.conftest import student_config

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def finished_run(tiny_root, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("export") / "runs")
    # unpruned here (pruning is slow on 2 cores); a pruned run's ONNX export is checked in test_pruning
    cfg = student_config(tiny_root, 24)
    s = run_experiment(parse_config(cfg), store)
    assert s["status"] == "done", s
    return store, s["run_id"]


def test_onnx_matches_pytorch_on_a_real_clip(finished_run, tiny_root, tmp_path):
    store, run_id = finished_run
    info = export_run(store, run_id, "onnx", tmp_path / "m.onnx")
    assert info["max_abs_diff"] <= 1e-4 and info["bytes"] > 0 and "onnxruntime" in info["example"]
    ds = open_dataset(tiny_root)
    clips = [ds.load(f).samples for f in ds.test()["filename"][:3]]
    x = torch.stack([log_mel(FeatureConfig())(torch.from_numpy(c)) for c in clips])[:, None]
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = sess.run(None, {"logmel": x.numpy()})[0]  # a batch of 3: the batch axis is dynamic
    with torch.inference_mode():
        ref = load_run_model(store, run_id)(x).numpy()
    assert got.shape == (3, 10) and np.abs(got - ref).max() <= 1e-4


def test_state_dict_reloads_with_its_meta(finished_run, tmp_path):
    store, run_id = finished_run
    info = export_run(store, run_id, "state_dict", tmp_path / "m.pt")
    model = load_model(info["path"], json.loads(Path(info["meta"]).read_text()))
    x = torch.randn(2, 1, 256, 65)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), load_run_model(store, run_id)(x))


def test_export_cli_and_refusals(finished_run, tmp_path):
    store, run_id = finished_run
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "asc_core",
            "export",
            run_id,
            "--format",
            "onnx",
            "--out",
            str(tmp_path / "cli.onnx"),
            "--runs",
            str(store.root),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["max_abs_diff"] <= 1e-4
    queued = store.create_run({"name": "x"}, name="x")
    with pytest.raises(ValueError, match="is queued; only finished runs export"):
        export_run(store, queued, "onnx", tmp_path / "q.onnx")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "asc_core",
            "export",
            "nope",
            "--out",
            str(tmp_path / "n.onnx"),
            "--runs",
            str(store.root),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "no run 'nope'" in bad.stderr
    # one clear line each: a folder as --out, a folder that does not exist, a kind that is not a model
    with pytest.raises(ValueError, match="is a folder; give a file path"):
        export_run(store, run_id, "onnx", tmp_path)
    with pytest.raises(ValueError, match="the folder .*nonexistent does not exist"):
        export_run(store, run_id, "onnx", tmp_path / "nonexistent" / "x.onnx")
    assert not (tmp_path / "nonexistent").exists()
    not_a_model = next(k for k, a in store.artifacts(run_id).items() if not str(a["path"]).endswith(".pt"))
    with pytest.raises(ValueError, match=f"no '{not_a_model}' model \\(its models: .*deployed"):
        export_run(store, run_id, "onnx", tmp_path / "m.onnx", kind=not_a_model)
