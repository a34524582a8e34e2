"""``python -m asc_core bench ...``: throughput and latency measured on this machine.

Speed is reported here, never asserted in tests.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from asc_core.machine import cpu_name


def _machine() -> dict:
    import torch

    return {
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "cuda": torch.cuda.is_available(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }


def bench_data(quick: bool = False) -> dict:
    """Generation time per preset, log-mel extraction clips/s (cold) and the cache-hit speed-up."""
    from asc_core.data import open_dataset
    from asc_core.data.features import FeatureConfig, extract
    from asc_core.embedded.synth import generate

    rows = []
    presets = ["tiny"] if quick else ["tiny", "mini", "standard"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for preset in presets:
            t0 = time.perf_counter()
            root = generate(preset, 0, tmp / preset)
            gen_s = time.perf_counter() - t0
            ds = open_dataset(root)
            files = ds.clips["filename"].tolist()
            row = {"preset": preset, "clips": len(files), "generate_s": round(gen_s, 1)}
            for name, cfg in (("dcase24", FeatureConfig()), ("passt", FeatureConfig.passt())):
                cold = extract(ds, files, cfg, cache_dir=tmp / "cache")
                warm = extract(ds, files, cfg, cache_dir=tmp / "cache")
                _ = float(warm.x[:].astype("float32").mean())  # touch every page of the memory map
                warm_s = warm.seconds
                row[f"{name}_clips_per_s"] = round(len(files) / cold.seconds, 1)
                row[f"{name}_cache_hit_s"] = round(warm_s, 4)
                row[f"{name}_cache_speedup"] = round(cold.seconds / max(warm_s, 1e-6), 1)
            rows.append(row)
    return {"bench": "data", "machine": _machine(), "rows": rows}


def _latency_ms(model, shape, repeats: int) -> float:
    """Milliseconds per forward pass of a batch of ``shape`` on the model's device, after one warm-up pass."""
    import torch

    dev = next(model.parameters()).device
    x = torch.randn(*shape, device=dev)
    with torch.inference_mode():
        model(x)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats):
            model(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - t0) / repeats


def bench_models(quick: bool = False) -> dict:
    """Per model: params, MACs, bytes at fp16, CPU latency (fp32) at batch 1 and 64; Rep-Mobile folded vs not."""
    import torch

    from asc_core.complexity import measure
    from asc_core.models import create_model, input_shape, list_models
    from asc_core.models.rep_mobile import reparameterize_model

    rows = []
    names = ["dcase24_baseline", "rep_mobile", "passt_tiny"] if quick else list_models()
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).eval()
        variants = [(name, model)]
        if name == "rep_mobile":
            variants = [("rep_mobile (training)", model), ("rep_mobile (folded)", reparameterize_model(model))]
        for label, m in variants:
            shape = input_shape(name)
            c = measure(m, shape)
            big = name == "passt_s"
            rows.append(
                {
                    "model": label,
                    "params": c.params,
                    "macs": c.macs,
                    "bytes_fp16": c.bytes("fp16"),
                    "dcase": "yes" if c.meets_dcase else "no",
                    "ms_b1": round(_latency_ms(m, shape, 3 if big or quick else 30), 2),
                    "ms_b64": round(_latency_ms(m, (64, *shape[1:]), 1 if big or quick else 5), 1),
                }
            )
    return {
        "bench": "models",
        "machine": _machine(),
        "rows": rows,
        "note": "CPU fp32 latency; PaSST MACs from torchinfo omit attention matmuls",
    }


def bench_train(quick: bool = False) -> dict:
    """The training loop beside the bare step per network, and the quick presets' wall times (bench_train.py)."""
    from asc_core.devtools.bench_train import bench_train as run

    return run(quick)


def _launch_latency(root: Path, runs: Path, data: Path) -> dict:
    """A worker waiting on an empty queue; submit a small run; time to 'running' and to the first
    training-step progress written to the store (what the Jobs page polls)."""
    import subprocess
    import sys

    from asc_core import jobs
    from asc_core.config import parse_config
    from asc_core.store import Store

    store = Store(runs)
    worker = subprocess.Popen(
        [sys.executable, "-m", "asc_core", "worker", "--runs", str(runs)], cwd=root, stderr=subprocess.DEVNULL
    )
    try:
        t_start = time.time()
        while not store.live_workers():
            if time.time() - t_start > 120:
                raise RuntimeError("the worker did not start within 120 s")
            time.sleep(0.05)
        cfg = parse_config(
            {
                "dataset": str(data),
                "subset": 25,
                "student": {"name": "rep_mobile", "width": 32},
                "optim": {"epochs": 2, "batch_size": 16, "validate_every": 100},
                "accelerator": "cpu",
            }
        )
        t0 = time.time()
        run_id = jobs.submit(cfg, store)
        t_running = t_progress = None
        while time.time() - t0 < 300:
            r = store.get_run(run_id)
            if t_running is None and r["status"] == "running":
                t_running = time.time() - t0
            if r["stage"] == "student training" and (r["progress"] or 0) > 0:
                t_progress = time.time() - t0
                break
            time.sleep(0.05)
        jobs.cancel(store, run_id)
        return {
            "worker_start_s": round(t0 - t_start, 2),
            "submit_to_running_s": round(t_running or float("nan"), 2),
            "submit_to_first_progress_s": round(t_progress or float("nan"), 2),
        }
    finally:
        worker.send_signal(2)
        worker.wait(120)


def bench_app(quick: bool = False) -> dict:
    """Launch → first progress with a real worker, and each page's render time with 200 fake runs."""
    import json
    import subprocess
    import sys

    from asc_core.devtools import fake_runs
    from asc_core.embedded.synth import generate
    from asc_core.paths import PROJECT_ROOT
    from asc_core.store import Store

    n = 20 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = generate("tiny", 0, tmp / "tiny")
        launch = _launch_latency(PROJECT_ROOT, tmp / "launch", data)
        t0 = time.perf_counter()
        fake_runs.fill(Store(tmp / "runs"), n)
        fill_s = time.perf_counter() - t0
        env = dict(os.environ, ASC_RUNS=str(tmp / "runs"), ASC_DATA=str(data), PYTHONPATH=str(PROJECT_ROOT))
        out = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "scripts" / "bench_pages.py"), "--repeats", "1" if quick else "3"],
            env=env,
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
        )
        if out.returncode:
            raise RuntimeError(f"page bench failed: {out.stderr[-2000:]}")
        pages = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [{"what": k.replace("_", " "), "seconds": v} for k, v in launch.items()]
    rows.append({"what": f"write {n} fake runs (900 predictions each) to the store", "seconds": round(fill_s, 1)})
    rows += [
        {"what": f"render page {p} with {n} runs (AppTest, median of {1 if quick else 3})", "seconds": s}
        for p, s in pages.items()
    ]
    return {"bench": "app", "machine": _machine(), "rows": rows}


def bench_teachers(quick: bool = False) -> dict:
    """PaSST teachers on this machine: stored-logits inference clips/s (fp32 on a CPU, fp16 on a GPU) and
    fine-tuning clips/s (forward + backward + Adam step, mixed precision on a GPU), on clips of the `mini` set;
    then the CNN teachers of the tables (CP-ResNet, CP-Mobile-64, BC-ResNet): training step and logits pass."""
    import torch

    from asc_core.data import open_dataset
    from asc_core.data.features import FEATURE_PRESETS, extract
    from asc_core.models import create_model
    from asc_core.paths import default_dataset_root

    ds = open_dataset(default_dataset_root())
    n = 16 if quick else 128
    fs = extract(ds, ds.subset(25)["filename"].tolist()[:n], FEATURE_PRESETS["waveform"]())
    x = torch.from_numpy(fs.x.astype("float32")).unsqueeze(1)  # [n, 1, 1, samples]
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for name in ["passt_tiny"] if quick else ["passt_tiny", "passt_s"]:
        torch.manual_seed(0)
        model = create_model(name).to(dev).eval()
        half = dev == "cuda"
        bs = 32
        with torch.inference_mode(), torch.autocast(dev, dtype=torch.float16, enabled=half):
            model(x[:2].to(dev))  # warm-up
            t0 = time.perf_counter()
            for i in range(0, n, bs):
                model(x[i : i + bs].to(dev)).float().cpu()
            infer = n / (time.perf_counter() - t0)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-5)
        steps, tb = (2, 4) if quick else (4, 8)
        y = torch.zeros(tb, dtype=torch.long, device=dev)
        amp = torch.bfloat16 if dev == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
        t0 = time.perf_counter()
        for s in range(steps + 1):
            if s == 1:
                t0 = time.perf_counter()  # the first step warms up
            with torch.autocast(dev, dtype=amp, enabled=dev == "cuda"):
                loss = torch.nn.functional.cross_entropy(model(x[:tb].to(dev)).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        train = steps * tb / (time.perf_counter() - t0)
        params = sum(p.numel() for p in model.parameters())
        rows.append({"teacher": name, "params": f"{params:,}", "device": dev,
                     "logits clips/s": round(infer, 1), f"fine-tune clips/s (batch {tb})": round(train, 1),
                     "25 % of mini, 1 view (s)": round(len(ds.subset(25)) / infer, 1)})  # fmt: skip
    rows += [_cnn_teacher_row(name, width, dev, quick) for name, width in CNN_TEACHERS[: 1 if quick else None]]
    return {"bench": "teachers", "machine": _machine(), "rows": rows}


CNN_TEACHERS = [("cp_resnet", 32), ("cp_mobile", 64), ("bc_resnet", 32)]  # the tables' CNN teachers


def _cnn_teacher_row(name: str, width: int, dev: str, quick: bool) -> dict:
    """A CNN teacher: its training step (``bench_train.bare_step``: random log-mels, batch 64, the product's
    layout and precision) and its logits pass on a batch of 64, clips/s."""
    import torch

    from asc_core.devtools.bench_train import bare_step
    from asc_core.models import create_model, input_shape

    train = bare_step(name, width, 2 if quick else 8)
    torch.manual_seed(0)
    model = create_model(name, width=width).to(dev).eval()
    infer = 64 * 1000 / _latency_ms(model, input_shape(name, 64), 1 if quick else 4)
    return {"teacher": f"{name}-{width}", "params": f"{sum(p.numel() for p in model.parameters()):,}", "device": dev,
            "logits clips/s": round(infer, 1), "train step clips/s (batch 64)": round(train, 1)}  # fmt: skip


def format_result(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"bench {result['bench']} — {m['cpu_cores']} cores, cuda={m['cuda']}, torch {m['torch']}, "
        f"{m['torch_threads']} threads"
    ]
    rows = result["rows"]
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
        lines.append("  ".join(k.rjust(widths[k]) for k in keys))
        for r in rows:
            lines.append("  ".join(str(r.get(k, "")).rjust(widths[k]) for k in keys))
    return "\n".join(lines)
