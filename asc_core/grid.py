"""Ablation grids: several values for any config field → the cartesian product, every config validated
before anything is queued; and an estimate of how long a config takes, from the runs already done."""

from __future__ import annotations

import itertools
import math

import yaml

from asc_core.config import ConfigError, ExperimentConfig, parse_config
from asc_core.speeds import clips_per_s, pruning_costs, work

# A pruning round besides its training: the accuracy before it, NNI's dependency trace and the budget search (median
# 18 s in Table V's 84 rounds on the 2-core CPU, 12-36 s). NNI's speed-up and the accuracy after pruning are in the
# schedule's factor (``speeds._MASKED``). The GPU's figure is older (H100, from the runs' totals).
_PRUNE_ROUND_S = {"cpu": 20.0, "cuda": 8.0}


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["student.width=32,64", "kd.lam=0.1,0.3"]`` → ``{"student.width": [32, 64], "kd.lam": [0.1, 0.3]}``."""
    grid = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid expects key=v1,v2,..., got {item!r}")
        k, v = item.split("=", 1)
        values = [yaml.safe_load(x) for x in _split_top(v)]
        if not values:
            raise ConfigError(f"--grid {k}: no values")
        grid[k.strip()] = values
    return grid


def _split_top(s: str) -> list[str]:
    """Split on commas outside brackets, so ``pruning.chain=[64,32],[48,32]`` gives two lists."""
    out, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [x.strip() for x in out + [cur] if x.strip()]


def expand(
    base: dict, grid: dict[str, list], name: str = "", overrides: list[str] | None = None
) -> list[tuple[str, ExperimentConfig]]:
    """Every combination of the grid's values over ``base`` (a raw config dict, presets allowed, plus
    ``key=value`` overrides), validated. Returns ``[(label, config)]``; one invalid combination fails the
    whole grid, naming it."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        combo_set = [
            f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for k, v in zip(keys, combo)
        ]
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, combo))
        try:
            cfg = parse_config(base, list(overrides or []) + combo_set)
        except ConfigError as e:
            raise ConfigError(f"grid combination {label or '(base)'}: {e}") from None
        if name or label:
            cfg.name = " · ".join(x for x in (name or cfg.name, label) if x)
        out.append((label, cfg))
    return out


def clips_per_device(rows) -> dict[str, int]:
    """A subset's training clips per recording device (``Dataset.subset`` rows)."""
    return {str(k): int(v) for k, v in rows["device"].value_counts().items()}


def data_sizes(ds, rows) -> dict:
    """What ``stage_plan`` reads of the data besides the training clips: per device, and the test split's."""
    return {"device_clips": clips_per_device(rows), "eval_clips": len(ds.test())}


def stage_plan(
    cfg: ExperimentConfig,
    train_clips: int,
    runs: list[dict] | None = None,
    teachers_ready: int = 0,
    device: str = "cpu",
    parent_ready: bool = False,
    *,
    device_clips: dict[str, int] | None = None,
    eval_clips: int = 0,
    workers: int = 1,
) -> dict[str, float]:
    """Estimated seconds per stage, in the order a run goes through them, keyed as the run names its stages
    ('teacher 1/2', 'student training', 'pruning round 1/2', 'device fine-tuning 3/6', 'evaluation'): the duration
    estimate and the weights of a running run's whole progress. ``device_clips``: the training clips per device,
    where the caller has the data (device fine-tuning costs each device its own clips: device A holds three
    quarters of TAU22's); else they are costed as even. ``eval_clips``: the test split's clips, which a training
    runs through every ``validate_every`` epochs (at 5 %, 12 times 1,800 clips against 60 epochs of 350: a fifth
    of a width-96 run); 0 leaves validation out. ``workers``: how many runs train at once on this machine (on a
    CPU they share it: ``speeds.share``)."""

    def rate_of(name: str, width: int | None, kwargs: dict | None = None) -> float:
        return clips_per_s(name, width, cfg.feature_mode, runs or [], device, eval_clips, workers, kwargs)

    rate = rate_of(cfg.student.name, cfg.student.width, cfg.student.kwargs)
    plan: dict[str, float] = {}
    n_t = len(cfg.teachers)
    for i, spec in enumerate(cfg.teachers):
        if i >= teachers_ready:  # teachers in the zoo are reused: seconds
            t_work = work(train_clips, spec.optim.epochs, spec.optim.validate_every, eval_clips)
            plan[f"teacher {i + 1}/{n_t}"] = t_work / rate_of(spec.model.name, spec.model.width, spec.model.kwargs)
        else:
            plan[f"teacher {i + 1}/{n_t}"] = 2.0
    plan["features"] = 5.0
    if cfg.teachers:
        plan["teacher logits"] = 3.0
    # a pruning run whose trained parent is in the store loads it (train/parents.py): seconds
    student_work = work(train_clips, cfg.optim.epochs, cfg.optim.validate_every, eval_clips)
    plan["student training"] = 2.0 if parent_ready else student_work / rate
    if cfg.pruning.mode != "none":
        p = cfg.pruning
        n_rounds = len(p.chain) + (p.budget is not None)
        schedule = p.schedule_epochs if p.schedule != "one_shot" else 0
        before = [cfg.student.width, *p.chain]  # the width each round starts from (a budget round: the last one)
        for k in range(n_rounds):
            start, end = before[min(k, len(before) - 1)], (p.chain[k] if k < len(p.chain) else before[-1])
            # the schedule trains the masked network at the width it starts from; fine-tuning, the pruned one
            student = cfg.student
            rate_start, rate_end = (rate_of(student.name, w, student.kwargs) if w else rate for w in (start, end))
            # its fine-tuning validates as the training does (runner.finetune: every ``validate_every`` epochs)
            finetune = work(train_clips, p.finetune_epochs, cfg.optim.validate_every, eval_clips)
            masked, pruned = pruning_costs(start, end, device)  # NNI's masks; a pruned network's own channels
            plan[f"pruning round {k + 1}/{n_rounds}"] = (
                train_clips * schedule / rate_start * masked + finetune / rate_end * pruned + _PRUNE_ROUND_S[device]
            )
    plan["evaluation"] = 7.0
    if cfg.device_finetune.enabled:
        from asc_core.data.labels import TRAIN_DEVICES

        for i, d in enumerate(TRAIN_DEVICES):
            clips = device_clips.get(d, 0) if device_clips is not None else train_clips / len(TRAIN_DEVICES)
            # its fine-tuning, then the test split through the device's model (the general model's stage: 7 s)
            plan[f"device fine-tuning {i + 1}/{len(TRAIN_DEVICES)}"] = clips * cfg.device_finetune.epochs / rate + 7.0
    return plan


def estimate_seconds(
    cfg: ExperimentConfig,
    train_clips: int,
    runs: list[dict] | None = None,
    teachers_ready: int = 0,
    device: str = "cpu",
    parent_ready: bool = False,
    *,
    device_clips: dict[str, int] | None = None,
    eval_clips: int = 0,
    workers: int = 1,
) -> float:
    """Rough duration: the sum of ``stage_plan`` (student epochs — seconds for a pruning run whose parent is ready —,
    teachers not yet in the zoo, pruning rounds with their schedule, fine-tuning, search and speed-up, device
    fine-tuning, data and evaluation; the validation passes and each device's clips where the caller gives them;
    ``workers`` runs at once)."""
    plan = stage_plan(cfg, train_clips, runs, teachers_ready, device, parent_ready, device_clips=device_clips,
                      eval_clips=eval_clips, workers=workers)  # fmt: skip
    return math.ceil(sum(plan.values()))


# Optimisation steps a student needs to leave chance, from this product's own runs on `mini`: the quick preset
# (750 clips, batch 64, 12 epochs = 144 steps) reaches ~48 %; the same student at 2-4 epochs (24-48 steps) predicted
# one scene for every test clip (10 %).
MIN_STEPS = 120


def optimisation_steps(cfg: ExperimentConfig, train_clips: int) -> int:
    return math.ceil(train_clips / cfg.optim.batch_size) * cfg.optim.epochs


def steps_warning(cfg: ExperimentConfig, train_clips: int) -> str | None:
    """One line when the subset, batch size and epochs give too few optimisation steps to learn anything."""
    steps = optimisation_steps(cfg, train_clips)
    if cfg.optim.epochs == 0 or steps >= MIN_STEPS:
        return None
    need = math.ceil(MIN_STEPS / math.ceil(train_clips / cfg.optim.batch_size))
    return (f"only {steps} optimisation steps ({train_clips:,} clips / batch {cfg.optim.batch_size} × "
            f"{cfg.optim.epochs} epochs): students trained for under {MIN_STEPS} steps here predicted one scene for "
            f"every clip; use at least {need} epochs, a larger subset or a smaller batch")  # fmt: skip


def teacher_warnings(teachers: list[str], passt_init: str) -> list[str]:
    """Teacher choices this product measured to be weak where they would run (no GPU here): one line each."""
    import torch

    out = []
    if torch.cuda.is_available():
        return out
    if any(t.startswith("passt") for t in teachers) and not (passt_init == "audioset" and "passt_s" in teachers):
        out.append("A PaSST trained from scratch on a CPU stays weak: on 25 % of `mini` it reached 18-20 % "
                   "(the CP-ResNet teacher 49.7 %). Use a CNN teacher here, or the AudioSet PaSST-S "
                   "on a GPU.")  # fmt: skip
    if "passt_s" in teachers:
        out.append("PaSST-S fine-tunes at ~1.5 clips/s on this CPU (`bench teachers`): hours for one subset.")
    return out


def plan(configs: list[ExperimentConfig], store, workers: int | None = None) -> list[dict]:
    """For each config: training clips, teachers already in the zoo, final complexity and an estimate, with
    ``workers`` runs training at once (None: as many as there are workers on this machine now, at least one). A
    teacher or a pruning parent an earlier config of the list trains is reused by the later ones (the zoo's lock:
    they wait for it), so only the first pays for it."""
    from asc_core.data import open_dataset_cached
    from asc_core.paths import default_dataset_root
    from asc_core.train.device import compute_device
    from asc_core.zoo import parent_key, parent_lock, teacher_key

    runs = store.list_runs()
    workers = workers or local_workers(store)
    out, trained_by = [], {}  # the key of a teacher or parent a config of the list trains → that config
    for n, cfg in enumerate(configs):
        ds = open_dataset_cached(str(cfg.dataset or default_dataset_root()))
        rows = ds.subset(cfg.subset)
        clips = len(rows)
        ready, after = 0, set()
        for spec in cfg.teachers:  # a count (stage_plan costs the teachers after the first `ready` ones)
            key = teacher_key(ds, cfg.subset, spec, cfg.kd.views)
            entry = store.get_teacher(key)
            in_zoo = bool(entry and entry.get("status") == "done")
            ready += in_zoo or key in trained_by
            _needs(key, n, trained_by, after, in_zoo)
        key, parent = parent_lock(parent_key(cfg)), False
        if cfg.pruning.mode != "none":
            in_store = parent_ready(cfg, store)
            parent = in_store or key in trained_by
            _needs(key, n, trained_by, after, in_store)
        else:
            trained_by.setdefault(key, n)  # an unpruned run leaves its student as the parent of the runs that prune it
        out.append(
            {
                "name": cfg.name,
                "train_clips": clips,
                "teachers_ready": ready,
                "teachers": len(cfg.teachers),
                "estimate_s": estimate_seconds(
                    cfg,
                    clips,
                    runs,
                    ready,
                    compute_device(cfg.accelerator),
                    parent,
                    **data_sizes(ds, rows),
                    workers=workers,
                ),  # fmt: skip
                "workers": workers,  # the estimate's: as many training at once
                "after": sorted(after),  # the configs of the list that train a teacher or the parent it waits for
                "steps": optimisation_steps(cfg, clips),
                "warning": steps_warning(cfg, clips),
            }
        )
    return out


def _needs(key: str, n: int, trained_by: dict, after: set, ready: bool) -> None:
    """Config ``n`` needs ``key`` (a teacher, a pruning parent): nothing when it is ``ready`` already, else the
    config of the list that trains it, or ``n`` itself trains it."""
    if ready:
        return
    if key in trained_by:
        after.add(trained_by[key])
    else:
        trained_by[key] = n


def local_workers(store) -> int:
    """The workers training on this machine now, at least one (the app starts one; `make app WORKERS=2` or
    `worker --concurrency 2`, two): how many runs share its CPU."""
    import socket

    return max(1, sum(w["host"] == socket.gethostname() for w in store.live_workers()))


def parent_ready(cfg: ExperimentConfig, store) -> bool:
    """Whether this pruning run's trained parent is in the store (train/parents.py): it will load, not train, it."""
    if cfg.pruning.mode == "none":
        return False
    from asc_core.zoo import find_parent

    return find_parent(cfg, store) is not None


def final_complexity(cfg: ExperimentConfig) -> dict:
    """The deployed model's figures before anything is trained: the student's (folded) when it is not
    pruned; the last pruning target's when it is (the pruned network lands at or just under it, so these
    are upper bounds: ``bound`` is True). Keys as ``Complexity.to_dict`` plus ``bound`` and ``what``."""
    from asc_core.complexity import BYTES_PER_PARAM, MAX_MACS, MAX_PARAM_BYTES, deployed_complexity

    p = cfg.pruning
    if p.mode == "none" or (p.chain and not p.budget):
        width = p.chain[-1] if p.mode != "none" else cfg.student.width
        d = deployed_complexity(cfg.student.name, width, cfg.student.kwargs, cfg.student_features).to_dict()
        d["bound"] = p.mode != "none"
        d["what"] = (
            f"{cfg.student.name}" + (f" width {width}" if width else "") + (" (pruning target)" if d["bound"] else "")
        )
        return d
    b = p.budget
    params = b.bytes // BYTES_PER_PARAM[b.precision]
    ok = b.macs <= MAX_MACS and params * BYTES_PER_PARAM["int8"] <= MAX_PARAM_BYTES
    by_prec = {q: params * n for q, n in BYTES_PER_PARAM.items()}
    widest = next((q for q, n in by_prec.items() if n <= MAX_PARAM_BYTES), None)
    return {
        "params": params,
        "macs": b.macs,
        "bytes": by_prec,
        "widest_precision": widest,
        "meets_dcase": ok,
        "verdict": ("meets" if ok else "exceeds") + f" the DCASE budget at most: ≤ {b.macs / 1e6:.2f} M MACs, "
        f"≤ {b.bytes:,} B at {b.precision}",
        "bound": True,
        "what": f"{cfg.student.name} pruned to a budget",
    }


def wall_seconds(estimates: list[float], workers: int, after: list | None = None) -> float:
    """How long a queue of runs takes with ``workers`` processes, each run at its estimate (``plan(..., workers)``:
    at its speed with as many training at once). ``after[i]``: the runs run ``i`` waits for (``plan``'s ``after``:
    the runs that train its teacher or its pruning parent). A worker that frees takes the first run in order that
    can start then (``next_run``: a run that would wait goes behind those that can start, and one already waiting
    gives its worker back); when none can, the first that can start soonest, at that time. Without ``after``, each
    worker takes the next run in order as it frees."""
    after = after or [()] * len(estimates)
    free, end = [0.0] * max(1, workers), {}  # each worker's free time; each started run's end
    pending = list(range(len(estimates)))
    while pending:
        w = free.index(min(free))
        ready = {i: max((end[d] for d in after[i]), default=0.0) for i in pending if all(d in end for d in after[i])}
        now = [i for i in pending if i in ready and ready[i] <= free[w]]
        i = now[0] if now else min(ready, key=lambda i: (ready[i], pending.index(i)))
        start = max(free[w], ready[i])
        pending.remove(i)
        end[i] = free[w] = start + estimates[i]
    return max(free)


def plan_wall(estimates: list[dict], workers: int | None = None) -> float:
    """The wall time of ``plan``'s rows (each with ``estimate_s`` and ``after``) with ``workers`` (default: the
    plan's own) taking them in order."""
    workers = workers or (estimates[0]["workers"] if estimates else 1)
    return wall_seconds([e["estimate_s"] for e in estimates], workers, [e.get("after", ()) for e in estimates])


def fmt_duration(seconds: float) -> str:
    """'40 s', '7 min', '2 h 05 min'."""
    s = int(round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
