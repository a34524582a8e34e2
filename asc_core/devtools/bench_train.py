"""``python -m asc_core bench train``: how close the training loop runs to the hardware's limit.

For each network: the bare step (forward, backward and an Adam step on random inputs of the run's shape, in
the layout and precision the product trains in) beside the whole loop (Lightning, the DataModule, augmentations,
KD logits, progress writes) on cached and on-the-fly features, and their ratio; then the wall time of the
`quick`, `quick-single` and `quick-progressive` presets end to end on `mini`. The figures are written to
``<data home>/bench/train.json``; the Experiment page's estimates read them (``asc_core.grid``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from asc_core.speeds import results_path

NETWORKS = [("dcase24_baseline", 32), ("rep_mobile", 32), ("rep_mobile", 96)]
PRESETS = ("quick", "quick-single", "quick-progressive")


def _device() -> str:
    from asc_core.train.device import compute_device

    return compute_device()


def bare_step(model_name: str, width: int, steps: int, batch_size: int = 64, grouped: str | None = None) -> float:
    """Clips/s of forward + backward + Adam on random log-mels, the product's layout and precision."""
    import torch

    from asc_core.memory import fit_memory
    from asc_core.models import create_model, input_shape
    from asc_core.train.device import training_precision
    from asc_core.train.layout import as_layout, prefers_channels_last, to_layout

    dev = _device()
    torch.manual_seed(0)
    model = fit_memory(create_model(model_name, width=width).to(dev).train())  # low-memory mode: blocks recompute
    if grouped:
        from asc_core.models.rep_mobile import RepDepthwise

        for m in model.modules():
            if isinstance(m, RepDepthwise):
                m.grouped = grouped
    cl = prefers_channels_last(model)
    to_layout(model, cl)
    x = as_layout(torch.randn(*input_shape(model_name, batch_size), device=dev), cl)
    y = torch.randint(0, 10, (batch_size,), device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    amp = training_precision() != "32-true"
    dtype = torch.bfloat16 if training_precision() == "bf16-mixed" else torch.float16

    def step():
        with torch.autocast(dev, dtype=dtype, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    _sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync()
    return steps * batch_size / (time.perf_counter() - t0)


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def loop_step(
    ds,
    model_name: str,
    width: int,
    mode: str,
    steps: int,
    batch_size: int = 64,
    on_start: Callable | None = None,
    kwargs: dict | None = None,
) -> float:
    """Clips/s of the product's own training loop (``train.loop.fit``'s Trainer settings), after 3 warm-up steps
    (``on_start`` is called between them and the clock: ``bench_shared`` holds each process there until all are).
    ``kwargs``: the network's own (Table II's ``branches``)."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from asc_core.config import Augment, Optim
    from asc_core.models import create_model
    from asc_core.train.data import ASCDataModule
    from asc_core.train.device import training_precision
    from asc_core.train.loop import quiet_lightning
    from asc_core.train.module import ASCModule

    dm = ASCDataModule(ds, 100, "dcase24", mode, batch_size, 0, 0)
    dm.setup()
    aug = Augment(freqm=48, mixstyle_p=0.7, mixstyle_alpha=0.3)
    optim = Optim(optimizer="adam", lr=0.001, weight_decay=0.0, epochs=1, warmup_epochs=0, schedule="constant")
    model = create_model(model_name, width=width, **(kwargs or {}))
    module = ASCModule(model, optim, aug, None, "dcase24", mode == "on_the_fly")

    class Clock(Callback):  # clips counted from the batches (the last one of an epoch may be short)
        clips = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 3:
                _sync()
                if on_start:
                    on_start()
                self.t0 = time.perf_counter()
            if trainer.global_step >= 3:
                self.clips += len(batch[1])

    clock = Clock()
    quiet_lightning()
    trainer = L.Trainer(max_steps=steps + 3, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, limit_val_batches=0, accelerator="auto", deterministic=True,
                        precision=training_precision(), callbacks=[clock])  # fmt: skip
    trainer.fit(module, datamodule=dm)
    _sync()
    return clock.clips / (time.perf_counter() - clock.t0)


def branch_loops(ds, steps: int, rows: list, rounds: int = 1) -> dict[str, float]:
    """Table II's branch sets in Rep-Mobile-32's loop, each as a multiple of the default network's clips/s, measured
    beside them: {"3x3,1x1": 1.34, ...}. The default and the sets are measured in turn ``rounds`` times and the
    medians kept (a machine whose speed drifts moves them all alike). The estimates do not read these
    (``speeds._BRANCH_SPEED`` says why): on the 2-core CPU, 30 steps a set, two runs of it gave the sets 0.95-1.34x
    and 1.12-1.70x the default's clips/s; the bare step's 1.11-1.59x, which two loops at once (as two workers train)
    confirm within 3-7 %, stay."""
    from statistics import median

    from asc_core.tables import BRANCH_SETS

    sets = {",".join(b): b for b in BRANCH_SETS.values()}
    seen: dict[str, list[float]] = {k: [] for k in sets}
    defaults = []
    for _ in range(rounds):
        defaults.append(loop_step(ds, "rep_mobile", 32, "cached", steps))
        for key, branches in sets.items():
            seen[key].append(loop_step(ds, "rep_mobile", 32, "cached", steps, kwargs={"branches": branches}))
    base = median(defaults)
    out = {key: round(median(v) / base, 2) for key, v in seen.items()}
    for key, v in seen.items():
        rows.append({"network": f"rep_mobile-32, branches {key.replace('x', '×')}", "features": "cached",
                     "loop clips/s": round(median(v), 1),
                     "loop / default loop": out[key]})  # fmt: skip
    return out


def _shared(root: Path, rates: dict, networks: list, steps: int, rows: list) -> dict:
    """On a CPU of two cores or more: Rep-Mobile's loop with two workers training at once, one thread each where
    the CPU has two cores (``bench_shared``), beside the same loop alone. {} on a GPU (each worker has its own)."""
    import os

    from asc_core.devtools.bench_shared import shared_loop_rates

    cores = os.cpu_count() or 1
    if _device() != "cpu" or cores < 2:
        return {}
    n, out = 2, {}
    for name, width in [nw for nw in networks if nw[0] == "rep_mobile"]:
        key = f"{name}@{width}"
        each = shared_loop_rates(root, name, width, n, steps)
        out[key] = round(sum(each) / n, 1)
        rows.append({"network": f"{name}-{width}", "features": f"cached, {n} at once",
                     "loop clips/s": " / ".join(f"{r:.1f}" for r in each),
                     "loop / bare": f"{out[key] / rates[key]:.2f} of alone"})  # fmt: skip
    return {"workers": n, "threads_each": max(1, cores // n), "rates": out}


def _preset_wall(preset: str, root: Path, quick: bool) -> tuple[float, dict]:
    from asc_core.config import parse_config
    from asc_core.store import Store
    from asc_core.train.runner import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        over = {"dataset": str(root)}
        if quick:
            over |= {"optim": {"epochs": 1}, "teachers": []}
        cfg = parse_config({"preset": preset, **over})
        t0 = time.perf_counter()
        summary = run_experiment(cfg, Store(tmp))
        return time.perf_counter() - t0, summary


def bench_train(quick: bool = False) -> dict:
    from asc_core.data import open_dataset
    from asc_core.devtools.bench import _machine
    from asc_core.embedded.synth import generate, is_complete
    from asc_core.memory import peak_mb, reset_peak
    from asc_core.paths import data_home

    preset = "tiny" if quick else "mini"
    root = data_home() / preset
    if not is_complete(root, preset, 0):
        generate(preset, 0, root)
    ds = open_dataset(root)
    steps = 3 if quick else 30
    rows, rates = [], {}
    networks = NETWORKS[:2] if quick else NETWORKS
    if _device() == "cuda" and not quick:
        networks = [*networks, ("rep_mobile_paper", 32)]  # the `paper` preset's student
    for name, width in networks:
        bare = bare_step(name, width, steps)
        if name == "rep_mobile" and _device() == "cuda":  # the branches as one grouped conv vs one by one
            rows.append({"network": f"{name}-{width}", "features": "branches one by one",
                         "bare step clips/s": round(bare_step(name, width, steps, grouped="never"), 1)})  # fmt: skip
        for mode in ("cached", "on_the_fly") if name == "dcase24_baseline" else ("cached",):
            reset_peak()
            loop = loop_step(ds, name, width, mode, steps)
            rates[f"{name}@{width}" + ("" if mode == "cached" else ":on_the_fly")] = round(loop, 1)
            rows.append({"network": f"{name}-{width}", "features": mode, "loop clips/s": round(loop, 1),
                         "bare step clips/s": round(bare, 1), "loop / bare": round(loop / bare, 2),
                         "peak RSS (MB)": round(peak_mb())})  # fmt: skip
    shared = _shared(root, rates, networks, steps, rows)
    if not quick:
        branch_loops(ds, steps, rows)
    presets = {}
    for p in PRESETS[:1] if quick else PRESETS:
        wall, summary = _preset_wall(p, root, quick)
        presets[p] = round(wall, 1)
        acc = summary.get("macro_accuracy", float("nan"))
        peaks = summary.get("peak_memory_mb") or {}
        worst = max(peaks, key=peaks.get) if peaks else ""
        rows.append({"network": f"preset {p}", "features": f"end to end on {preset}",
                     "loop clips/s": f"{wall:.0f} s", "bare step clips/s": f"macro acc {acc:.1f} %",
                     "peak RSS (MB)": f"{peaks.get(worst, 0):.0f} ({worst})"})  # fmt: skip
    result = {"bench": "train", "machine": _machine(), "rows": rows, "rates": rates, "presets": presets}
    if not quick:
        results_path().parent.mkdir(parents=True, exist_ok=True)
        saved = {
            "machine": result["machine"],
            "device": _device(),
            "rates": rates,
            "shared": shared,
            "presets": presets,
            "measured": time.time(),
        }
        results_path().write_text(json.dumps(saved, indent=1))
    return result
