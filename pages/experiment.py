"""Experiment: choose data, student, teachers, KD, pruning, device fine-tuning; see the final model's
budget before launch; queue one run, a seed sweep, or a whole ablation grid."""

import pandas as pd
import streamlit as st

from asc_core import jobs
from asc_core.config import (
    Budget,
    ConfigError,
    ExperimentConfig,
    Pruning,
    TeacherSpec,
    choices,
    defaults,
    list_presets,
    parse_config,
)
from asc_core.constants import MAX_WIDTH, MIN_WIDTH, STUDENT_WIDTHS, WIDTH_STEP
from asc_core.grid import expand, final_complexity, fmt_duration, parse_grid, plan, plan_wall, teacher_warnings
from asc_core.models import list_models, model_doc
from asc_core.paths import default_dataset_root
from asc_core.store import Store

st.title("Experiment")
st.caption("Everything here is also `python -m asc_core submit CONFIG.yaml [--grid key=v1,v2]`.")
store = Store()

preset = st.selectbox("Start from a preset", list_presets(), index=list_presets().index("quick"), key="exp_preset")
base = parse_config({"preset": preset}).model_dump(mode="json")
k = f"exp_{preset}_"  # widgets follow the chosen preset

# ---------------------------------------------------------------- data and student
c1, c2, c3, c4 = st.columns([3, 1, 2, 1])
dataset = c1.text_input("Dataset folder", value=base["dataset"] or str(default_dataset_root()), key=k + "dataset")
subsets = choices(ExperimentConfig, "subset")
subset = c2.selectbox("Subset (%)", subsets, index=subsets.index(base["subset"]), key=k + "subset")
students = list_models("student")
student = c3.selectbox(
    "Student",
    students,
    index=students.index(base["student"]["name"]),
    key=k + "student",
    help="\n\n".join(f"**{m}** — {model_doc(m)}" for m in students),
)
width = c4.number_input(
    "Width",
    min_value=MIN_WIDTH,
    max_value=MAX_WIDTH,
    step=WIDTH_STEP,
    value=base["student"]["width"] or STUDENT_WIDTHS[0],
    key=k + "width",
    help="channels of the first stage",
)

# ---------------------------------------------------------------- teachers
st.subheader("Teachers")
zoo = pd.DataFrame(store.list_teachers())
if not zoo.empty:
    zoo = zoo[(zoo["dataset"] == str(dataset)) & (zoo["subset"] == subset)]
if zoo.empty:
    st.caption(
        f"No teacher in the zoo for this dataset at {subset} % yet: the first run trains them (and stores "
        "their logits) and later runs reuse them."
    )
else:
    st.caption("Teachers already in the zoo for this dataset and subset (reused, not retrained):")
    st.dataframe(
        zoo[["model", "status", "accuracy", "seed", "created_at"]].assign(
            created_at=lambda d: pd.to_datetime(d["created_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M"),
            accuracy=lambda d: d["accuracy"].map(lambda v: f"{v:.1f} %" if v == v and v is not None else "—"),
        ),
        hide_index=True,
        width="stretch",
    )
default_teachers = list(dict.fromkeys(t["model"]["name"] for t in base["teachers"]))  # a preset may repeat one
t1, t2, t3, t4 = st.columns([3, 1, 1, 1])
teachers = t1.multiselect(
    "Teacher ensemble (logits averaged)", list_models(), default=default_teachers, key=k + "teachers"
)
t_opt = (
    base["teachers"][0]["optim"]
    if base["teachers"]
    else TeacherSpec.model_fields["optim"].default_factory().model_dump()
)
t_epochs = t2.number_input("Teacher epochs", 1, 500, t_opt["epochs"], key=k + "t_epochs")
t_width = t3.number_input(
    "CNN teacher width",
    MIN_WIDTH,
    MAX_WIDTH,
    next((t["model"]["width"] for t in base["teachers"] if t["model"]["width"]), STUDENT_WIDTHS[0]),
    step=WIDTH_STEP,
    key=k + "t_width",
)
base_inits = list(dict.fromkeys(t.get("init", "scratch") for t in base["teachers"] if t["model"]["name"] == "passt_s"))
init_options = (["as in the preset"] if len(base_inits) > 1 else []) + ["scratch", "audioset"]
t_init = t4.selectbox(
    "PaSST-S starts from",
    init_options,
    index=0 if len(base_inits) != 1 else init_options.index(base_inits[0]),
    key=k + "t_init",
    disabled="passt_s" not in teachers,
    help="scratch: random weights; audioset: the PaSST author's AudioSet release, fine-tuned on the subset "
    "(fetched once with `python -m asc_core teachers download passt_s_audioset`)",
)
for w in teacher_warnings(teachers, t_init):
    st.warning(w)
kd1, kd2, kd3 = st.columns(3)
lam = kd1.slider("KD λ (weight of the label loss)", 0.0, 1.0, float(base["kd"]["lam"]), 0.01, key=k + "lam",
                 help="loss = λ · cross-entropy with the labels + (1 − λ) · distillation loss; λ = 1 ignores the "
                 "teachers, small λ follows them")  # fmt: skip
tau = kd2.slider("Temperature τ", 0.1, 10.0, float(base["kd"]["tau"]), 0.1, key=k + "tau",
                 help="softens the teachers' and the student's probabilities before they are compared: a higher τ "
                 "shows the student which wrong scenes the teacher found plausible (see Learn)")  # fmt: skip
views = kd3.number_input("Stored teacher views per clip", 1, 8, base["kd"]["views"], key=k + "views",
                          help="the teachers' logits are computed once and stored for this many time-rolled "
                          "copies of each clip; training picks one copy per step, so no teacher runs during "
                          "training")  # fmt: skip

# ---------------------------------------------------------------- training, pruning, devices
st.subheader("Training")
o1, o2, o3, o4 = st.columns(4)
epochs = o1.number_input("Student epochs", 0, 1000, base["optim"]["epochs"], key=k + "epochs")
lr = o2.number_input("Learning rate", 1e-5, 1.0, float(base["optim"]["lr"]), format="%.4f", key=k + "lr")
batch = o3.number_input("Batch size", 1, 1024, base["optim"]["batch_size"], key=k + "batch")
seeds_text = o4.text_input(
    "Seeds (comma-separated)",
    str(base["seed"]),
    key=k + "seeds",
    help="several seeds queue one run each; Compare shows mean ± std",
)

st.subheader("Pruning")
p = base["pruning"]
p1, p2, p3, p4 = st.columns(4)
modes = choices(Pruning, "mode")
mode = p1.radio(
    "Strategy",
    modes,
    index=modes.index(p["mode"]),
    key=k + "pmode",
    help="single: prune straight to the target; progressive: a chain of targets, each pruned then KD fine-tuned",
)
target_kind = p2.radio(
    "Target", ["width", "budget"], index=1 if p["budget"] else 0, key=k + "ptarget", disabled=mode == "none"
)
chain_text = p2.text_input(
    "Widths, in order",
    ",".join(map(str, p["chain"])) or str(STUDENT_WIDTHS[0]),
    key=k + "chain",
    disabled=mode == "none" or target_kind != "width",
)
b = p["budget"] or defaults(Budget)
b_macs = p3.number_input(
    "Budget: MACs (millions)",
    0.1,
    1000.0,
    b["macs"] / 1e6,
    key=k + "bmacs",
    disabled=mode == "none" or target_kind != "budget",
)
b_bytes = p3.number_input(
    "Budget: parameter bytes",
    1000,
    10_000_000,
    b["bytes"],
    step=1000,
    key=k + "bbytes",
    disabled=mode == "none" or target_kind != "budget",
)
precisions = choices(Budget, "precision")
b_prec = p3.selectbox(
    "at precision",
    precisions,
    index=precisions.index(b["precision"]),
    key=k + "bprec",
    disabled=mode == "none" or target_kind != "budget",
)
pruners = choices(Pruning, "pruner")
pruner = p4.selectbox("Pruner", pruners, index=pruners.index(p["pruner"]), key=k + "pruner", disabled=mode == "none",
                      help="which channels go: those whose filters have the smallest L1 (or L2) norm")  # fmt: skip
schedules = choices(Pruning, "schedule")
schedule = p4.selectbox(
    "Schedule",
    schedules,
    index=schedules.index(p["schedule"]),
    key=k + "schedule",
    disabled=mode == "none",
    help="how the sparsity rises to its target while the student keeps training: linear steps, AGP (fast first, "
    "then slower), or all at once (one_shot)",
)
sched_epochs = p4.number_input(
    "Schedule length (epochs)",
    0.1,
    100.0,
    float(p["schedule_epochs"]),
    0.5,
    key=k + "schedep",
    disabled=mode == "none" or schedule == "one_shot",
    help=f"Epochs of KD training over which the sparsity rises to its target ({p['total_times']} updates)",
)
ft_epochs = p4.number_input(
    "Fine-tune epochs per round", 1, 200, p["finetune_epochs"], key=k + "ftep", disabled=mode == "none"
)

d1, d2 = st.columns(2)
dev_ft = d1.checkbox(
    "Device-specific fine-tuning (one copy per training device; s4–s6 keep the general model)",
    value=base["device_finetune"]["enabled"],
    key=k + "devft",
)
dev_ep = d2.number_input(
    "Device fine-tuning epochs", 1, 100, base["device_finetune"]["epochs"], key=k + "devep", disabled=not dev_ft
)

# ---------------------------------------------------------------- assemble and validate
raw = dict(base)
raw.update(dataset=dataset, subset=subset, name=st.session_state.get(k + "name") or base["name"])
raw["student"] = {
    "name": student,
    "width": int(width),
    "kwargs": base["student"]["kwargs"] if student == base["student"]["name"] else {},
}
t_spec_opt = dict(t_opt, epochs=int(t_epochs))
raw["teachers"] = []
for t in teachers:  # the preset's specs of this model (recipes, seeds, inits) with the page's edits, else a new one
    specs = [dict(b) for b in base["teachers"] if b["model"]["name"] == t] or [
        {"model": {"name": t, "width": None if t.startswith("passt") else int(t_width)}, "optim": t_spec_opt}
    ]
    for spec in specs:
        spec["optim"] = dict(spec.get("optim") or t_spec_opt, epochs=int(t_epochs))
        if not t.startswith("passt"):
            spec["model"] = dict(spec["model"], width=int(t_width))
        if t == "passt_s" and t_init != "as in the preset":
            spec["init"] = t_init
        raw["teachers"].append(spec)
raw["kd"] = dict(base["kd"], lam=lam, tau=tau, views=int(views))
raw["optim"] = dict(base["optim"], epochs=int(epochs), lr=float(lr), batch_size=int(batch))
raw["pruning"] = {
    "mode": mode,
    "pruner": pruner,
    "schedule": schedule,
    "finetune_epochs": int(ft_epochs),
    "total_times": p["total_times"],
    "schedule_epochs": float(sched_epochs),
    "interval_steps": p.get("interval_steps"),
    "finetune_lr": p["finetune_lr"],
    "chain": [],
    "budget": None,
}
errors = []
if any(t.get("init") == "audioset" for t in raw["teachers"]):
    from asc_core.weights import AUDIOSET, WeightsError, check_present

    try:
        check_present(AUDIOSET)
    except WeightsError as e:
        errors.append(str(e))
if mode != "none":
    if target_kind == "width":
        try:
            raw["pruning"]["chain"] = [int(x) for x in chain_text.replace("→", ",").split(",") if x.strip()]
        except ValueError:
            errors.append(f"pruning widths must be whole numbers separated by commas, got {chain_text!r}")
    else:
        raw["pruning"]["budget"] = {"macs": int(b_macs * 1e6), "bytes": int(b_bytes), "precision": b_prec}
raw["device_finetune"] = dict(base["device_finetune"], enabled=dev_ft, epochs=int(dev_ep))
try:
    seeds = [int(s) for s in seeds_text.split(",") if s.strip()] or [0]
except ValueError:
    errors.append(f"seeds must be whole numbers separated by commas, got {seeds_text!r}")
    seeds = [0]

st.subheader("Ablation grid")
grid_text = st.text_area(
    "Several values for any field, one field per line (`key=v1,v2`); the cartesian product is queued as one group",
    key=k + "grid",
    placeholder="student.width=32,48,64\nkd.lam=0.1,0.3\nsubset=5,10,25",
)
configs = []
try:
    grid = parse_grid([ln for ln in grid_text.splitlines() if ln.strip()])
    if len(seeds) > 1:
        grid["seed"] = seeds
    else:
        raw["seed"] = seeds[0]
    if not errors:
        configs = expand(raw, grid, name=st.session_state.get(k + "name", ""))
except ConfigError as e:
    errors.append(str(e))

# ---------------------------------------------------------------- what will be launched
st.subheader("Before launch")
for e in errors:
    st.error(e)
if configs:
    first = configs[0][1]
    fcs = [final_complexity(c) for _, c in configs]  # every combination of a grid, not only the first
    fc = fcs[0]
    if len(configs) == 1:
        m1, m2, m3, m4 = st.columns(4)
        le = "≤ " if fc["bound"] else ""
        m1.metric("Parameters", f"{le}{fc['params']:,}")
        m2.metric("MACs per 1-s clip", f"{le}{fc['macs'] / 1e6:.2f} M")
        m3.metric("Parameter memory (fp16)", f"{le}{fc['bytes']['fp16'] / 1000:.1f} kB")
        m4.metric("DCASE budget", "meets" if fc["meets_dcase"] else "exceeds")
        (st.success if fc["meets_dcase"] else st.warning)(f"{fc['what']}: {fc['verdict']}")
    else:
        n_ok = sum(f["meets_dcase"] for f in fcs)
        (st.success if n_ok == len(fcs) else st.warning)(
            f"{n_ok} of {len(fcs)} combinations meet the DCASE budget (each one's figures are in the table below)"
        )
    try:
        est = plan([c for _, c in configs], store)
    except Exception as e:  # a missing dataset folder, most often
        st.error(f"Cannot plan these runs: {e}")
        est = None
    if est is not None:
        n_w = est[0]["workers"]
        total = plan_wall(est)
        st.write(
            f"**{len(configs)} run(s)** on {est[0]['train_clips']:,} training clips; about "
            f"**{fmt_duration(total)}** on this machine{f' with its {n_w} workers' if n_w > 1 else ''} "
            f"({sum(e['teachers_ready'] for e in est)} teacher(s) reused from the zoo)."
        )
        for w in dict.fromkeys(e["warning"] for e in est if e["warning"]):
            st.warning(w)
        if len(configs) > 1:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "run": c.name,
                            "params": f"{f['params']:,}",
                            "MACs (M)": round(f["macs"] / 1e6, 2),
                            "fp16 (kB)": round(f["bytes"]["fp16"] / 1000, 1),
                            "DCASE budget": "meets" if f["meets_dcase"] else "exceeds",
                            "steps": e["steps"],
                            "estimate (min)": round(e["estimate_s"] / 60, 1),
                        }
                        for (_, c), e, f in zip(configs, est, fcs)
                    ]  # fmt: skip
                ),
                hide_index=True,
                width="stretch",
            )
        g1, g2 = st.columns([2, 1])
        name = g1.text_input("Name (and group, for grids)", key=k + "name", placeholder=first.name or preset)
        if not store.live_workers():
            st.info(
                "No worker is running: runs wait in the queue until one starts "
                "(`make app` starts one; or `python -m asc_core worker`)."
            )
        # the same button in the sidebar, reachable without scrolling down the whole form
        side = st.sidebar.button(f"Launch {len(configs)} run(s)", type="primary", key="exp_launch_side",
                                 help=f"about {fmt_duration(total)} on this machine")  # fmt: skip
        st.sidebar.caption(f"{len(configs)} run(s) · about {fmt_duration(total)} · "
                           f"{sum(f['meets_dcase'] for f in fcs)} of {len(fcs)} within the DCASE budget")  # fmt: skip
        if g2.button(f"Launch {len(configs)} run(s)", type="primary", key="exp_launch") or side:
            chosen = [c for _, c in configs]
            last = st.session_state.get("exp_last_launch")
            if jobs.is_repeat(last, chosen):  # a double click: one launch per click, not two
                ids = last["ids"]
            else:
                ids = jobs.launch(chosen, store, name, label=preset)
                st.session_state["exp_last_launch"] = jobs.launch_record(chosen, ids)
            st.session_state["jobs_focus"] = ids[0]
            st.success(f"Queued {len(ids)} run(s): {', '.join(ids)}. Follow them on the Jobs page.")
            st.page_link("pages/jobs.py", label="Open Jobs", icon=":material/timer:")
    with st.expander("The config as YAML (for `python -m asc_core submit`)"):
        import yaml

        st.code(yaml.safe_dump(first.model_dump(mode="json"), sort_keys=False), language="yaml")
