"""How fast a network trains here: the training loop's clips/s for a model and width, from this store's finished
runs, else this machine's last `python -m asc_core bench train` (``<data home>/bench/train.json``), else the
defaults below; and what each of several CPU workers training at once gets of it. Read by the duration estimates
(``asc_core.grid``)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from asc_core.machine import busy

# Whole-loop training throughput (clips/s, cached features, batch 64) of ONE run alone, at width 32 (a model's own
# size where it has no width). CPU: `bench train` on the 2-core CPU this product is developed on (2 threads, the
# Makefile's malloc settings, 27 Nov 2026): DCASE24 baseline 400, Rep-Mobile 161.5. The other networks are scaled
# from Rep-Mobile by their bare-step speed on that CPU (one thread, `bench_train.bare_step`, 2026-11-26):
# CP-ResNet 1.5×, CP-Mobile 2.0×, TF-SepNet 1.6×, SSCP-Mobile 1.7×, DSSDN-L 0.6×, PaSST-tiny 3.5×, the paper's
# four-branch Rep-Mobile 1.1×. BC-ResNet (its depthwise convolutions and sub-spectral norms at full frequency
# resolution; its runs took over an hour where an old one-figure-for-all default said 4 min): 12.5 clips/s in each
# of two workers (Table III's seed 2 at 5 and 25 %, counting the validation passes), over the share of a width-32
# run (``_SHARED``). CUDA: one H200 (bf16).
_DEFAULT_CLIPS_PER_S = {
    "cpu": {
        "dcase24_baseline": 400.0,
        "rep_mobile": 161.5,
        "rep_mobile_paper": 178.0,
        "cp_resnet": 242.0,
        "cp_mobile": 323.0,
        "bc_resnet": 20.0,
        "tf_sepnet": 258.0,
        "sscp_mobile": 275.0,
        "dssdn_l": 97.0,
        "passt_tiny": 565.0,
        "other": 161.5,
    },
    "cuda": {"dcase24_baseline": 2000.0, "rep_mobile": 1080.0, "rep_mobile_paper": 1280.0, "other": 1000.0},
}
# How one run's training throughput falls with its width: clips/s ∝ width^-1.0. Rep-Mobile alone on the 2-core CPU
# (`bench train`): 161.5 clips/s at width 32, 54.5 at 96 (exponent 0.99). Pointwise convolutions grow with width²,
# but the front end, the depthwise convolutions and the per-batch overheads do not. (The width² this once assumed
# put a width-96 run at 32 min that took 11.) Where `bench train` measured two widths of the network, their ratio
# sets the exponent instead.
_WIDTH_EXPONENT = 1.0
# Two workers training at once on that CPU, one thread each: each one's run as a fraction of one run alone on both
# cores, per width: `bench train`'s two loops at once (`bench_shared`, 27 Nov 2026), 0.61 at width 32 and 0.60 at 96.
# Until validation ran folded and fused (models/fold.py) whole runs got less (0.62 and 0.40, Table V's seed-2 runs):
# at width 96 a test clip cost 3/4 of a training clip with both workers validating at once. After it, eight Table V
# runs at 25 % (width 64, single 64→32, progressive; 27 Nov 2026) took 44.4 min against 40.1 estimated with these
# figures (the whole-run ones said 49.0; width 64 unpruned: 7.5-7.9 min, estimated 7.9). Where this machine has
# run `bench train`, its own figures are used instead.
_SHARED = {"workers": 2, "fraction": {32: 0.61, 96: 0.60}}
# A validation pass costs a test clip an eighth of a training clip: it runs the network folded and fused
# (models/fold.py; 7.8-9.0x a training step's clips/s for Rep-Mobile at widths 32-96, batch 128, 2 threads, this
# CPU). A width-96 run of 10 epochs on the 5 % subset with a pass every epoch (3,500 training clips, 18,000 test
# clips) took 110 s where it took 197 s with the training-time network (at a third), the same val_loss to 1e-5.
_EVAL_SPEEDUP = 8.0
# A pruning round on a CPU costs more than the plain network's rates say. In Table V's 84 rounds on that CPU (two
# workers, 26-27 Nov 2026; each stage's time from the run's log, against the estimate without these) the schedule
# (NNI's wrappers apply the masks in every forward) took 1.35x the plain network's time at width 64 and 1.97x at 96,
# speed-up and accuracy after the cut included; 37 rounds since validation was fused say the same (1.33x, 1.97x).
# The fine-tuning, in those 37 rounds, against the plain network of its width: 1.22x after a cut to two thirds of
# the channels (96→64, median; IQR 1.18-1.24), 1.19x after a cut to half (64→32; 1.14-1.27), 0.92x after a cut to a
# third (96→32; 0.91-1.00): keyed by the cut (width before / after), a power of it between 2 and 3, the nearest
# outside. Runs now record each round's stages (``pruning_rounds[*].seconds``). Not measured on a GPU: 1 there.
_MASKED = {64: 1.35, 96: 1.97}
_PRUNED_FINETUNE = {2.0: 1.2, 3.0: 0.92}
# Rep-Mobile trains each branch on its own (a depthwise convolution and its BatchNorm; the identity, a BatchNorm): a
# bare step of Rep-Mobile-32 with n branches against the default's five, this CPU, 27 Nov 2026 (batch 64, 2 threads,
# interleaved): four 1.11x the clips/s, three 1.33-1.35x (1×1+3×1+1×3, 3×3+3×1+1×3), two 1.59x (3×3+1×1), one
# 2.01x (3×3). Table II's rows were all estimated at the default's rate (a "without 3×1 + 1×3" run at twice its time).
# The training loop alone (`bench train`'s `branch_loops`, 2 threads, 30 steps a set, 28 Nov 2026) is too noisy to
# set them: three interleaved rounds gave four 0.95x, three 1.14-1.22x, two 1.34x; one `bench train` an hour later
# 1.12x, 1.39-1.42x, 1.70x. Two loops at once, one thread each, as two workers train (`bench_shared`, three rounds):
# four 1.08x, three 1.27x, two 1.56x the default's — the bare step's figures within 3-7 %, so they stay. Whole runs
# in the campaign spread further (Table II at 25 %: the paper's four 3.5 min, 3×3 + 1×1 2.1 min, 1.67x; the same
# pair alone 1.30x): each run's partner on the other worker differs.
_BRANCH_SPEED = {5: 1.0, 4: 1.11, 3: 1.34, 2: 1.59, 1: 2.01}


def results_path() -> Path:
    from asc_core.paths import data_home

    return data_home() / "bench" / "train.json"


def measured_rates() -> dict:
    """{"device": "cpu"|"cuda", "rates": {"model@width[:on_the_fly]": loop clips/s}, "shared": {"workers": 2,
    "threads_each": 1, "rates": {"rep_mobile@32": each one's loop clips/s, ...}}, "presets": {...}} or {}."""
    try:
        return json.loads(results_path().read_text())
    except (OSError, ValueError):
        return {}


def rates_source(device: str) -> str:
    """Where the estimates' speeds come from on this machine, in words, for a runs' plan to say beside its times
    (a run of a network this store has finished at the same thread count is timed from those runs first)."""
    from asc_core.machine import cpu_name

    bench, mine = measured_rates(), cpu_name()
    if bench.get("device") == device:
        when = time.strftime("%d %b %Y", time.gmtime(bench["measured"])) if bench.get("measured") else "an earlier day"
        theirs = (bench.get("machine") or {}).get("cpu")
        other = "" if theirs in (None, mine) else f", on another CPU ({theirs}; this one is {mine}): run it again here"
        return f"this machine's `python -m asc_core bench train` of {when}{other}"
    if device == "cuda":
        return "defaults measured on one H200 (bf16): `python -m asc_core bench train` measures this GPU"
    return (f"defaults measured on the 2-core CPU this product was developed on, 26-28 Nov 2026 (this one: "
            f"{mine}, {os.cpu_count()} cores, not measured): on another CPU they can be off by several times "
            "(a 2-core AMD EPYC with AVX2 trained Table V's width-96 students at a third of their speed); "
            "`python -m asc_core bench train` (about 15 min, on a quiet machine) measures this one")  # fmt: skip


def work(train_clips: int, epochs: int, validate_every: int | None, eval_clips: int) -> float:
    """What a training costs in training clips: its epochs, and its passes over the test split (Lightning's
    ``check_val_every_n_epoch``) at ``_EVAL_SPEEDUP`` test clips a training clip."""
    return train_clips * epochs + epochs // max(1, validate_every or 1) * eval_clips / _EVAL_SPEEDUP


def worker_threads(workers: int) -> int:
    """The threads each of ``workers`` CPU workers trains with (``jobs.worker_env``; one worker: torch's own, which
    ``OMP_NUM_THREADS`` sets where it is given, so a command that only plans need not import torch to know it)."""
    if workers <= 1:
        if os.environ.get("OMP_NUM_THREADS", "").isdigit() and "torch" not in sys.modules:
            return max(1, int(os.environ["OMP_NUM_THREADS"]))
        import torch

        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // workers)


def clips_per_s(
    name: str,
    width: int | None,
    feature_mode: str,
    runs: list[dict],
    device: str,
    eval_clips: int = 0,
    workers: int = 1,
    kwargs: dict | None = None,
) -> float:
    """A run's training clips/s with ``workers`` runs training at once. The median of this store's finished
    teacher-free runs of the same model and width that trained with as many threads as each of those workers gets
    (their seconds already paid for the sharing), leaving out those that other work on the CPU slowed
    (``machine.busy``) unless they are all there is; else this machine's last `bench train` (the same network, scaled
    from the nearest width measured as width^-e, e from the two widths it measured or ``_WIDTH_EXPONENT``; a network
    it did not measure: the defaults, scaled by this machine's Rep-Mobile against theirs); else the defaults. The last
    two are one run alone, times each worker's ``share``."""
    w = width or 32
    threads = worker_threads(workers) if device == "cpu" else None
    rates, slowed = [], []
    for r in runs:
        s = r.get("summary") or {}
        c = r.get("config") or {}
        if r["status"] != "done" or not s.get("seconds") or s.get("student") != name:
            continue
        if (c.get("student") or {}).get("width") != width or c.get("teachers"):
            continue  # runs with teachers also paid for them; keep the estimate to the student's own rate
        if ((c.get("student") or {}).get("kwargs") or {}) != (kwargs or {}):
            continue  # another variant of the network (Table II's branch sets train at 1.1-2.0x the default's clips/s)
        if threads is not None and s.get("threads") != threads:
            continue  # it shared the CPU with another number of workers (or did not say: runs before 28 Nov 2026)
        optim = c.get("optim") or {}
        if optim.get("epochs") and s.get("train_clips"):  # its seconds also paid for its validation passes
            spent = work(s["train_clips"], optim["epochs"], optim.get("validate_every"), eval_clips)
            (slowed if busy(s) else rates).append(spent / s["seconds"])
    rates = rates or slowed  # runs slowed by other work on their CPU only where no other run says
    if rates:
        return sorted(rates)[len(rates) // 2]
    bench = measured_rates()
    mine = bench if bench.get("device") == device else {}
    return _alone(name, w, feature_mode, device, mine) * share(w, workers, device, mine) * branch_speed(name, kwargs)


def branch_speed(name: str, kwargs: dict | None) -> float:
    """Rep-Mobile with ``kwargs['branches']`` against the default's five, in clips/s (``_BRANCH_SPEED``); 1 for
    any other network or the default branches."""
    branches = (kwargs or {}).get("branches")
    if name != "rep_mobile" or not branches:
        return 1.0
    return _BRANCH_SPEED.get(len(set(branches)), 1.0)


def _alone(name: str, w: int, feature_mode: str, device: str, bench: dict) -> float:
    table = _DEFAULT_CLIPS_PER_S[device]
    default = table.get(name, table["other"]) * (32 / w) ** _WIDTH_EXPONENT
    suffix = ":on_the_fly" if feature_mode == "on_the_fly" else ""
    measured = {int(k.split("@")[1].split(":")[0]): v for k, v in bench.get("rates", {}).items()
                if k.split("@")[0] == name and k.endswith(suffix) and (suffix or ":" not in k)}  # fmt: skip
    if measured:
        w0 = min(measured, key=lambda x: abs(x - w))
        return measured[w0] * (w0 / w) ** _width_exponent(measured)
    reference = bench.get("rates", {}).get("rep_mobile@32")
    return default * reference / table["rep_mobile"] if reference else default


def share(width: int, workers: int, device: str, bench: dict | None = None) -> float:
    """Each of ``workers`` runs training at once, as a fraction of one run alone: 1 on a GPU (each worker has its
    own) or alone; on a CPU, Rep-Mobile's measured fraction at this width (``bench`` — this machine's `bench train`
    — where it measured one, else ``_SHARED``), between two measured widths as a power of the width, outside them
    the nearest; for more workers than were measured, the same total throughput split among more."""
    if device != "cpu" or workers <= 1:
        return 1.0
    measured, n = _SHARED["fraction"], _SHARED["workers"]
    sh, alone = (bench or {}).get("shared") or {}, (bench or {}).get("rates") or {}
    mine = {int(k.split("@")[1]): v / alone[k] for k, v in sh.get("rates", {}).items()
            if k.startswith("rep_mobile@") and alone.get(k)}  # fmt: skip
    if mine:
        measured, n = mine, sh.get("workers", 2)
    return min(1.0, _along_width(measured, width) * n / workers)


def pruning_costs(width: int, target: int, device: str) -> tuple[float, float]:
    """(a pruning schedule's time starting from ``width``, the fine-tuning's time of the network cut to ``target``)
    as multiples of the plain network's at the same width (``_MASKED``, ``_PRUNED_FINETUNE``); (1, 1) on a GPU."""
    if device != "cpu":
        return 1.0, 1.0
    return _along_width(_MASKED, width), _along_width(_PRUNED_FINETUNE, width / max(1, target))


def _along_width(measured: dict[float, float], width: float) -> float:
    """A figure measured at some widths (or cuts), at ``width``: between two as a power of it, outside the nearest."""
    lo, hi = min(measured), max(measured)
    w = min(hi, max(lo, width))
    along = 0.0 if hi == lo else math.log(w / lo) / math.log(hi / lo)  # 0 at the narrowest width, 1 at the widest
    return measured[lo] * (measured[hi] / measured[lo]) ** along


def _width_exponent(measured: dict[int, float]) -> float:
    """The exponent of width in a network's clips/s, from two widths `bench train` measured (bounded to 0.5-2.5:
    a noisy pair should not predict a width-96 network faster than a width-32 one), else ``_WIDTH_EXPONENT``."""
    if len(measured) < 2:
        return _WIDTH_EXPONENT
    lo, hi = min(measured), max(measured)
    if measured[lo] <= 0 or measured[hi] <= 0:
        return _WIDTH_EXPONENT
    return min(2.5, max(0.5, math.log(measured[lo] / measured[hi]) / math.log(hi / lo)))
