"""Learn: the seed paper's three ideas with live widgets — distillation temperature, re-parameterisation,
single-step vs progressive pruning — each linking to where the app uses it."""

import plotly.express as px
import streamlit as st

from asc_core import paper_results, table_record, table_report, tables, teacher_lead
from asc_core.app import compare, learn
from asc_core.app import model_views as mv
from asc_core.app.learn import EVIDENCE_VIEWS
from asc_core.app.plots import (
    kernels_figure,
    per_device_figure,
    pruning_path_figure,
    seed_curves_figure,
    teacher_lead_figure,
    trajectory_figure,
)
from asc_core.data.labels import SCENES
from asc_core.store import Store

st.title("Learn: three ideas behind a 128 kB scene classifier")
st.markdown(
    "A low-complexity model must fit **30 M MACs** and **128 kB** of parameters, and learn from as little as "
    "**5 %** of the data. Rep-Mobile gets there with three ideas: a large **teacher** to learn from, "
    "**branches** that help training and vanish before deployment, and **pruning** a wider network down "
    "in steps."
)

# ---------------------------------------------------------------- 1. temperature
st.header("1 · Distillation: the teacher's soft labels")
st.markdown(
    "The student learns from the label *and* from the teacher's probabilities. Dividing the logits by a "
    "temperature τ > 1 flattens them, so the student also sees **which wrong scenes the teacher finds "
    "plausible** — a metro station sounds a bit like a tram."
)
c1, c2 = st.columns(2)
tau = c1.slider("Temperature τ", 0.5, 10.0, 2.0, 0.5, key="learn_tau")
lam = c2.slider("λ — weight of the label loss", 0.0, 1.0, 0.3, 0.05, key="learn_lam")
dist = learn.distribution_frame(learn.EXAMPLE_TEACHER, tau)
st.plotly_chart(
    px.bar(dist, x="scene", y="probability", color="temperature", barmode="group", height=320, range_y=[0, 1]),
    width="stretch",
    key="learn_dist",
)
p1, pt = learn.softened(learn.EXAMPLE_TEACHER, 1), learn.softened(learn.EXAMPLE_TEACHER, tau)
label = SCENES.index("metro_station")
terms = learn.kd_terms(learn.EXAMPLE_STUDENT, learn.EXAMPLE_TEACHER, label, lam, tau)
m1, m2, m3 = st.columns(3)
m1.metric(
    "Entropy of the soft label",
    f"{learn.entropy_bits(pt):.2f} bits",
    f"{learn.entropy_bits(pt) - learn.entropy_bits(p1):+.2f} vs τ = 1",
)
m2.metric("Label term (CE)", f"{terms['ce']:.3f}")
m3.metric("Distillation term (τ²·KL / 10)", f"{terms['kd']:.3f}")
curve = learn.kd_curve(learn.EXAMPLE_STUDENT, learn.EXAMPLE_TEACHER, label, lam)
st.plotly_chart(
    px.line(curve, x="tau", y=["loss", "ce", "kd"], height=280, labels={"tau": "temperature τ", "value": "loss"}),
    width="stretch",
    key="learn_curve",
)
st.caption(
    f"Total loss = λ·CE + (1 − λ)·τ²·KL(teacher ‖ student)/10 = {terms['loss']:.3f} for this clip (CP-JKU's "
    "loss: their mean runs over the ten classes). The τ² factor keeps the distillation gradients comparable "
    "across temperatures."
)
st.page_link("pages/experiment.py", label="Choose teachers, λ and τ on the Experiment page", icon=":material/science:")

# ---------------------------------------------------------------- 2. re-parameterisation
st.header("2 · Re-parameterisation: train with branches, deploy one kernel")
st.markdown(
    "During training each depthwise 3×3 convolution has parallel 1×1, 3×1 (frequency), 1×3 (time) and "
    "identity branches, each with its BatchNorm. All are linear, so after training every BatchNorm folds "
    "into its kernel (W·γ/σ), the small kernels are zero-padded into the 3×3 grid, and the sum is **one** "
    "kernel: the deployed network is exactly as small as plain CP-Mobile."
)
b1, b2 = st.columns([3, 1])
branches = b1.multiselect(
    "Branches",
    ["3x3", "1x1", "3x1", "1x3", "identity"],
    default=["3x3", "1x1", "3x1", "1x3", "identity"],
    key="learn_branches",
)
seed = b2.number_input("Random weights (seed)", 0, 999, 0, key="learn_seed")
if branches:
    fv = mv.fold_view(learn.tiny_rep_block(int(seed), tuple(branches)), "0", 0)
    st.plotly_chart(kernels_figure(mv.kernel_grid(fv["branches"], fv["folded"])), width="stretch", key="learn_kernels")
    st.success(f"Multi-branch block vs folded kernel, max abs difference on a random input: {fv['error']:.1e}")
else:
    st.warning("Pick at least one branch.")
st.page_link(
    "pages/models.py", label="See the folded kernels of a trained run on the Models page", icon=":material/memory:"
)

# ---------------------------------------------------------------- 3. pruning
st.header("3 · Pruning: wide first, then smaller — in one step or several")
st.markdown(
    "A wider student learns more from the teacher; channel pruning (by L1 norm of the filters) then removes "
    "the least important channels until the network meets the budget, and a short distillation fine-tune "
    "recovers accuracy. **Single-step** prunes straight to the target; **progressive** goes through "
    "intermediate widths (96 → 64 → 32), fine-tuning after each, so less is lost at once."
)
runs = Store().list_runs("done")
pr = learn.pruned_runs(runs)
if pr.empty:
    st.info(
        "No pruned runs in the store yet. Queue the `quick-single` and `quick-progressive` presets on the "
        "Experiment page to compare them here with your own numbers."
    )
else:
    st.dataframe(pr, hide_index=True, width="stretch")
    by_id = {r["run_id"]: r for r in runs}
    pick = st.selectbox(
        "Trajectory of",
        pr["run_id"],
        key="learn_run",
        format_func=lambda i: f"{pr.set_index('run_id').loc[i, 'strategy']} ({i})",
    )
    st.plotly_chart(trajectory_figure(mv.trajectory(by_id[pick]["summary"])), width="stretch", key="learn_traj")
st.page_link(
    "pages/compare.py", label="Table V on the Compare page: every strategy × subset", icon=":material/bar_chart:"
)

# ---------------------------------------------------------------- 4. the evidence
st.header("4 · What the seeds' tables say, measured by this product")
st.markdown(
    "The papers' ablations, run through this product's own pipeline on the embedded `standard` set "
    "(`python -m asc_core tables run`; every run kept in `docs/results/`, the tables in `docs/RESULTS.md`). "
    "Macro accuracy (%), mean ± std over seeds (n runs); *missing*: not run yet. Beside each table, the paper's "
    "own figures (Han et al., on TAU22's development split: 20× the clips of the embedded set, real recordings): "
    "compare the two for **direction** — which row is above which — not for level."
)
try:
    results = table_record.results_frame()
    recorded = table_record.recorded()  # read once per rerun: each table's standing words and earlier data use it
except table_record.ResultsError as e:
    st.error(str(e))
    results, recorded = table_record.results_frame_empty(), {}
local = {r["run_id"] for r in runs}
# each table's verdicts, computed once a rerun: the caption over all of them and each table's expander read them
verdicts = {t: paper_results.directions(t, results) for t in tables.TABLES if t != "device"}
if across := paper_results.across_tables_words(verdicts):  # one test per cell, many cells: what holds of them all
    st.caption(across)


@st.cache_data(show_spinner=False, max_entries=32)
def _evidence_figure(results, table: str, view: str):
    """The figures change only when docs/results does (the frame is the cache key): built once, not every rerun."""
    return learn.evidence_figure(results, table, view)


for table, title in (("V", "Table V — widths and pruning"), ("IV", "Table IV — teacher ensembles"),
                     ("II", "Table II — Rep-Mobile's branches"), ("III", "Table III — teachers alone"),
                     ("device", "Device-specific fine-tuning")):  # fmt: skip
    cells = table_record.table_cells(results, table)
    if table_record.nothing_recorded(cells):
        continue
    st.subheader(title)
    done, planned = table_record.progress(table, rows=recorded)
    st.caption(
        table_report.standing_words(table, recorded) + ("" if done == planned else " `tables run` does the rest.")
    )
    headline, rest = table_report.finding_parts(table)
    if headline:
        st.info(headline[:1].upper() + headline[1:], icon=":material/lightbulb:")
    view = EVIDENCE_VIEWS[0]
    if table != "device":
        view = st.radio("Show", EVIDENCE_VIEWS, horizontal=True, key=f"learn_view_{table}",
                        format_func=lambda v, t=table: v.replace("the first row", tables.reference_row(t)))  # fmt: skip
    fig = _evidence_figure(results, table, view)
    if fig is not None:
        st.plotly_chart(fig, width="stretch", key=f"learn_evidence_{table}")
    st.dataframe(paper_results.with_paper(cells, table), width="stretch")
    if table == "device" and (gain := table_report.device_gain_words(results)):
        st.caption(gain)
    directions = verdicts.get(table)
    if directions is not None and not directions.empty:
        with st.expander(f"Row by row against the paper: {paper_results.verdict_counts(directions)}"):
            st.caption(f"Points over *{tables.reference_row(table)}* at the same subset; ours ± the two rows' seed "
                       "spread combined. *Agrees*: the paper's sign, beyond the spread; *disagrees*: the other sign, "
                       "beyond it; *inside the spread*: the seeds cannot tell it from no difference. A reading rule, "
                       "not a test: the test is *p*, Welch's two-sided t-test of the row's *n* runs against the "
                       "reference row's (at two seeds a row, below 0.05 only for a gain of several spreads). Over a "
                       "table's cells, one in twenty null cells passes 0.05 by chance: *q* is *p* adjusted for them "
                       "all at once (Benjamini–Hochberg), and a cell with q at 0.05 or below holds with the false "
                       "discovery rate at 5 %."
                       )  # fmt: skip
            st.dataframe(learn.directions_table(directions), hide_index=True, width="stretch")
            if paired := table_report.paired_text(table, results):  # rows differing in one thing, seed by seed
                st.markdown(paired)
    if table == "IV" and not (pairs := teacher_lead.lead_pairs(results)).empty:
        with st.expander("Does the student follow its teachers? Seed by seed, against its best teacher's lead"):
            fit = teacher_lead.lead_fit(pairs)  # once: the caption and the figure
            st.caption(teacher_lead.lead_words(fit))
            st.plotly_chart(teacher_lead_figure(pairs, fit, list(tables.row_overrides("IV"))),
                            width="stretch", key="learn_teacher_lead")  # fmt: skip
    if rest:
        with st.expander("What the runs show, in full (the paper's numbers beside ours)"):
            st.markdown(rest)
    for tag in table_record.earlier_datasets(table, recorded):
        with st.expander(f"The same table on earlier data: {tag}"):
            st.caption(f"Measured {table_report.data_words(tag)}. Kept for comparison; never mixed into the above.")
            older = table_record.table_cells(table_record.results_frame({table: tag}), table)
            st.dataframe(paper_results.with_paper(older, table), width="stretch")
    with st.expander("The runs behind a cell: per device, and where to listen to them"):
        c1, c2 = st.columns([3, 1])
        row = c1.selectbox("Row", list(cells.index), key=f"learn_cell_row_{table}")
        subset = c2.selectbox("Subset", [int(c.split()[0]) for c in cells.columns], key=f"learn_cell_sub_{table}",
                              format_func=lambda s: f"{s} %")  # fmt: skip
        cell = table_record.cell_runs(table, row, subset)
        if cell.empty:
            planned = cells.loc[row, f"{subset} %"] != table_record.NOT_PLANNED
            st.caption("Not run yet: `python -m asc_core tables run` queues it." if planned else
                       "Not planned at this subset: the row measures the others only.")  # fmt: skip
            continue
        st.dataframe(learn.cell_table(cell), hide_index=True, width="stretch")
        st.plotly_chart(per_device_figure(compare.per_device_frame(cell)), width="stretch",
                        key=f"learn_cell_dev_{table}")  # fmt: skip
        curves = {f"seed {seed}": c for seed, c in zip(cell["seed"], cell["curve"]) if c}
        if curves:
            st.caption("How each seed's student learned: test accuracy at the epochs that validated (solid) and "
                       "training accuracy (dotted; on augmented, mixed clips)"
                       + ("." if len(curves) == len(cell) else ", for the runs whose curve was kept (collected "
                          "since 28 Nov 2026 from the store that trained them)."))  # fmt: skip
            st.plotly_chart(seed_curves_figure(curves), width="stretch", key=f"learn_cell_curves_{table}")
        paths = learn.pruning_paths(cell)
        if not paths.empty:
            st.caption("How the pruned network got there: accuracy after training wide, right after each cut, and "
                       "after each fine-tuning (the test split, %).")  # fmt: skip
            st.plotly_chart(pruning_path_figure(paths), width="stretch", key=f"learn_cell_path_{table}")
        elif tables.row_prunes(table, row):
            st.caption("These runs were recorded before docs/results kept a pruned run's path (cut by cut); it is in "
                       "the run store of the machine that trained them.")  # fmt: skip
        for run_id in cell["run_id"]:
            if run_id in local:
                if st.button(f"Listen to the mistakes of run {run_id}", key=f"learn_listen_{table}_{run_id}"):
                    st.session_state["listen_run"] = run_id
                    st.switch_page("pages/listen.py")
            else:
                st.caption(f"Run {run_id} is in the run store of the machine that trained it, not this one's: "
                           "its clips and predictions are there; these figures are docs/results/'s.")  # fmt: skip
if results.empty:
    st.info("No committed results yet: `python -m asc_core tables run` fills docs/results/.")
st.page_link("pages/compare.py", label="Compare your own runs with these tables", icon=":material/bar_chart:")
