"""Compare: the runs table (filters, groups, diff-only), accuracy vs MACs with the Pareto front,
data-efficiency curves, per-device bars, two runs' confusion matrices and their difference, the seed
paper's Tables IV and V regenerated from the runs that exist, exports."""

import streamlit as st

from asc_core import jobs, paper_results, table_record, teacher_lead
from asc_core.app import compare
from asc_core.app.plots import (
    confusion_figure,
    data_efficiency_figure,
    overlaid_curves_figure,
    pareto_figure,
    per_device_figure,
    teacher_lead_figure,
)
from asc_core.config import ConfigError, parse_config
from asc_core.data.labels import DEVICES, SCENES
from asc_core.grid import fmt_duration, plan, plan_wall
from asc_core.store import Store

st.title("Compare")
store = Store()
runs = store.list_runs()
df = compare.runs_frame(runs)


def _committed(table: str) -> None:
    """The seeds' table as measured and committed with the product (docs/results), marked as such."""
    try:
        res = table_record.results_frame()
    except table_record.ResultsError as e:
        st.error(str(e))
        return
    cells = table_record.table_cells(res, table)
    if table_record.nothing_recorded(cells):
        return
    machines = ", ".join(sorted(set(res["machine"]))) if "machine" in res else ""
    st.caption(
        f"Committed results (docs/results, {len(res)} runs on {machines}) — not runs of this store; "
        "`· paper`: the paper's figure (TAU22: compare directions, not levels; figures on the Learn page):"
    )
    st.dataframe(paper_results.with_paper(cells, table), width="stretch")


if df.empty or not (df["status"] == "done").any():
    st.info("No finished runs yet. Launch some from the Experiment page; finished runs appear here.")
    for t, title in (("IV", "Table IV — teacher ensembles"), ("V", "Table V — widths and pruning")):
        st.subheader(title)
        _committed(t)
    st.stop()

# ---------------------------------------------------------------- filters
with st.sidebar:
    st.header("Filter runs")
    groups = sorted(g for g in df["group"].unique() if g)
    chosen_groups = st.multiselect("Group", groups, key="cmp_groups")
    statuses = st.multiselect("Status", sorted(df["status"].unique()), default=["done"], key="cmp_status")
    filter_cols = st.multiselect(
        "Filter by config field",
        compare.config_columns(df) + ["teachers", "strategy"],
        key="cmp_filter_cols",
        format_func=lambda c: c.removeprefix("cfg."),
    )
    filters = {"status": statuses}
    if chosen_groups:
        filters["group"] = chosen_groups
    for c in filter_cols:
        values = sorted(df[c].astype(str).unique())
        filters[c] = st.multiselect(c.removeprefix("cfg."), values, default=values, key=f"cmp_f_{c}")
view = compare.filter_runs(df, filters)
done = view[view["status"] == "done"]

# ---------------------------------------------------------------- runs table
st.subheader(f"Runs ({len(view)} of {len(df)})")
diff_only = st.toggle("Show only the config fields that differ", value=True, key="cmp_diff")
# the figures people compare first, then what the runs are, then every differing config field
results = ["macro_acc", "warning", "seen_acc", "unseen_acc", "params", "macs", "bytes_fp16", "meets_dcase", "seconds"]
cfg_cols = compare.differing_columns(view) if diff_only else compare.config_columns(view)
table = view[
    ["name", *results, "status", "teachers", "strategy", "group", "run_id", *cfg_cols, *[f"acc.{d}" for d in DEVICES]]
].rename(columns=lambda c: c.removeprefix("cfg."))
table["macs"] = table["macs"] / 1e6
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "macro_acc": st.column_config.NumberColumn("macro acc (%)", format="%.1f"),
        "warning": st.column_config.TextColumn("health", help="a model that predicts one scene for nearly every "
                                               "clip, or is within noise of chance, is not a result"),
        "seen_acc": st.column_config.NumberColumn("seen devices (%)", format="%.1f"),
        "unseen_acc": st.column_config.NumberColumn("unseen devices (%)", format="%.1f"),
        "params": st.column_config.NumberColumn("params", format="%,d"),
        "macs": st.column_config.NumberColumn("MACs (M)", format="%.2f"),
        "bytes_fp16": st.column_config.NumberColumn("bytes at fp16", format="%,d"),
        "seconds": st.column_config.NumberColumn("wall time (s)", format="%.0f"),
        **{f"acc.{d}": st.column_config.NumberColumn(d, format="%.1f") for d in DEVICES},
    },
)  # fmt: skip
e1, e2 = st.columns(2)
e1.download_button(
    "Runs table as CSV", compare.to_csv(table.set_index("run_id")), "runs.csv", "text/csv", key="cmp_csv"
)
stats = compare.seed_stats(view)
if (stats["runs"] > 1).any():
    st.caption("Configurations run with several seeds (mean ± std of macro accuracy):")
    st.dataframe(stats[stats["runs"] > 1][["example", "runs", "mean", "std"]], hide_index=True)

if done.empty:
    st.stop()
tab_pareto, tab_eff, tab_dev, tab_conf, tab_curves, tab_iv, tab_v = st.tabs(
    ["Accuracy vs MACs", "Data efficiency", "Per device", "Confusion", "Learning curves", "Table IV (teachers)",
     "Table V (pruning)"]
)  # fmt: skip

with tab_curves:
    labels = {r: f"{n or r} ({r})" for r, n in zip(done["run_id"], done["name"])}
    picked = st.multiselect("Runs (up to 8)", list(labels), default=list(labels)[-3:], max_selections=8,
                            format_func=labels.get, key="cmp_curves")  # fmt: skip
    metric = st.radio("Curve", ["val_acc", "train_loss"], horizontal=True, key="cmp_curve_key",
                      format_func={"val_acc": "validation accuracy", "train_loss": "training loss"}.get)  # fmt: skip
    st.plotly_chart(overlaid_curves_figure({labels[r]: store.metrics(r) for r in picked}, metric), width="stretch",
                    key="cmp_curves_fig")  # fmt: skip

with tab_pareto:
    pts = done.dropna(subset=["macs", "macro_acc"])
    mask = compare.pareto_mask(pts["macs"], pts["macro_acc"])
    st.plotly_chart(pareto_figure(pts, mask), width="stretch", key="cmp_pareto")
    st.caption(f"{int(mask.sum())} run(s) on the Pareto front: no other run is both cheaper and more accurate.")

with tab_eff:
    curves = compare.data_efficiency(done)
    st.plotly_chart(data_efficiency_figure(curves), width="stretch", key="cmp_eff")
    st.caption("Each line: runs equal but for subset and seed; error bars: std over seeds.")

with tab_dev:
    labels = {f"{r['name'] or r['run_id']} ({r['run_id'][-4:]})": r["run_id"] for _, r in done.iterrows()}
    pick = st.multiselect("Runs", list(labels), default=list(labels)[-3:], key="cmp_dev_runs")
    long = compare.per_device_frame(done[done["run_id"].isin([labels[p] for p in pick])])
    if not long.empty:
        st.plotly_chart(per_device_figure(long), width="stretch", key="cmp_dev")
        st.caption("Hatched: devices never seen in training (s4–s6).")

with tab_conf:
    ids = done["run_id"].tolist()
    names = dict(zip(done["run_id"], done["name"]))
    c1, c2, c3 = st.columns(3)
    ra = c1.selectbox("Run A", ids, index=len(ids) - 1, key="cmp_conf_a", format_func=lambda i: f"{names[i]} ({i})")
    rb = c2.selectbox(
        "Run B", ids, index=max(0, len(ids) - 2), key="cmp_conf_b", format_func=lambda i: f"{names[i]} ({i})"
    )
    device = c3.selectbox("Device", ["all", *DEVICES], key="cmp_conf_dev")
    pa, pb = store.predictions(ra), store.predictions(rb)
    if pa.empty or pb.empty:
        st.info("One of these runs has no stored predictions.")
    else:
        ma, mb = compare.confusion_matrix(pa, device), compare.confusion_matrix(pb, device)
        f1, f2 = st.columns(2)
        f1.plotly_chart(confusion_figure(ma, SCENES, f"A: {names[ra]}"), width="stretch", key="cmp_cm_a")
        f2.plotly_chart(confusion_figure(mb, SCENES, f"B: {names[rb]}"), width="stretch", key="cmp_cm_b")
        st.plotly_chart(
            confusion_figure(ma - mb, SCENES, "A − B (percentage points)", diff=True),
            width="stretch",
            key="cmp_cm_diff",
        )


def _paper_table(tab, title, means, cells, row_col, key):
    with tab:
        st.caption(title)
        if cells.empty:
            st.info("No runs of this store fit this table yet.")
            _committed(key.removeprefix("table_").upper())
            return
        st.dataframe(cells, width="stretch")
        d1, d2, d3 = st.columns(3)
        d1.download_button("CSV", compare.to_csv(cells), f"{key}.csv", "text/csv", key=f"{key}_csv")
        d2.download_button(
            "LaTeX", compare.to_latex(means, caption=title), f"{key}.tex", "text/x-tex", key=f"{key}_tex"
        )
        missing = compare.fill_configs(df, runs, row_col, cells)
        if missing and d3.button(f"Fill the {len(missing)} missing cell(s)…", key=f"{key}_fill"):
            st.session_state[f"{key}_confirm"] = True
        if missing and st.session_state.get(f"{key}_confirm"):
            try:
                configs = [parse_config(c) for c in missing]
                est = plan(configs, store)
            except (ConfigError, ValueError) as e:
                st.error(str(e))
                return
            st.dataframe([{"run": c.name or f"{c.student.name} {c.student.width}", "subset": f"{c.subset} %",
                           "estimate (min)": round(e["estimate_s"] / 60, 1)} for c, e in zip(configs, est)],
                         hide_index=True)  # fmt: skip
            total = plan_wall(est)
            c1, c2 = st.columns(2)
            if c1.button(f"Queue these {len(configs)} runs (about {fmt_duration(total)})", key=f"{key}_go"):
                ids = jobs.launch(configs, store, group=f"fill {key}")
                st.session_state[f"{key}_confirm"] = False
                st.success(f"Queued {len(ids)} run(s); see Jobs.")
            if c2.button("Cancel", key=f"{key}_no"):
                st.session_state[f"{key}_confirm"] = False
                st.rerun()


_paper_table(
    tab_iv,
    "Macro accuracy (%) of unpruned students by teacher ensemble and training subset (Rep-Mobile paper, Table IV).",
    *compare.table_iv(done),
    "ensemble",
    "table_iv",
)
with tab_iv:  # the same runs, seed by seed: does a student follow its teachers?
    shown = set(done["run_id"])
    pairs = compare.teacher_lead_pairs([r for r in runs if r["run_id"] in shown])
    if not pairs.empty:
        fit = teacher_lead.lead_fit(pairs)  # once: the caption and the figure
        st.caption(teacher_lead.lead_words(fit, store=True))
        rows = sorted(set(pairs["row"]))
        st.plotly_chart(teacher_lead_figure(pairs, fit, rows), width="stretch",
                        key="cmp_teacher_lead")  # fmt: skip
_paper_table(
    tab_v,
    "Macro accuracy (%) of Rep-Mobile students by pruning strategy and training subset (Rep-Mobile paper, Table V).",
    *compare.table_v(done),
    "strategy_row",
    "table_v",
)
