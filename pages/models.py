"""Models: a network's layers and its DCASE budget at each precision, Rep-Mobile's branch kernels and
their folded kernel, and a pruned run's trajectory."""

import streamlit as st

from asc_core.app import model_views as mv
from asc_core.app.plots import kernels_figure, layers_figure, trajectory_figure
from asc_core.artifacts import load_run_model
from asc_core.models import create_model, input_shape, list_models, model_doc
from asc_core.models.rep_mobile import reparameterize_model
from asc_core.store import Store

st.title("Models")
store = Store()
runs = {r["run_id"]: r for r in reversed(store.list_runs("done"))}
source = st.radio("Network", ["a registered model", "a finished run"], horizontal=True, key="models_source", index=0)
if source == "a finished run" and not runs:
    st.info("No finished runs yet; showing registered models only.")
    source = "a registered model"

if source == "a registered model":
    c1, c2 = st.columns([3, 1])
    names = list_models()
    name = c1.selectbox("Model", names, index=names.index("rep_mobile"), key="models_name")
    width = c2.number_input("Width", 8, 256, 32, step=8, key="models_width", disabled=name.startswith("passt"))
    st.caption(model_doc(name))
    kw = {} if name.startswith("passt") else {"width": int(width)}
    training = mv.randomise_bn(create_model(name, **kw).eval())
    deployed = reparameterize_model(training) if mv.rep_blocks(training) else training
    summary = None
else:
    run_id = st.selectbox("Run", list(runs), key="models_run", format_func=lambda i: f"{runs[i]['name'] or i} ({i})")
    summary = runs[run_id]["summary"]
    name = summary["student"]
    deployed = load_run_model(store, run_id, "deployed")
    arts = store.artifacts(run_id)
    training = load_run_model(store, run_id, "student") if "student" in arts else deployed

# ---------------------------------------------------------------- layers and budget
df, totals = mv.layer_table(deployed, input_shape(name))
m1, m2, m3 = st.columns(3)
m1.metric("Parameters (deployed)", f"{totals['params']:,}")
m2.metric("MACs per 1-s clip", f"{totals['macs'] / 1e6:.2f} M")
m3.metric("DCASE budget", "meets" if totals["meets_dcase"] else "exceeds")
st.caption(totals["verdict"])
st.dataframe(mv.budget_table(totals["params"], totals["macs"]), hide_index=True, width="stretch")
t1, t2 = st.tabs(["Per-layer chart", "Per-layer table"])
t1.plotly_chart(layers_figure(df), width="stretch", key="models_layers")
t2.dataframe(df, hide_index=True, width="stretch")

# ---------------------------------------------------------------- Rep-Mobile folding
blocks = mv.rep_blocks(training)
if blocks:
    st.subheader("Re-parameterisation: branches → one 3×3 kernel")
    st.caption(
        "Each branch's kernel with its BatchNorm folded in (W·γ/σ), zero-padded into the 3×3 grid; their sum "
        "is the deployed kernel. Rows: frequency; columns: time."
        + (
            " Untrained network: BatchNorm statistics randomised so the folding is not trivial."
            if summary is None
            else ""
        )
    )
    b1, b2 = st.columns([3, 1])
    block = b1.selectbox("Block", blocks, key="models_block")
    channels = dict(training.named_modules())[block].channels
    channel = b2.number_input(f"Channel (0–{channels - 1})", 0, channels - 1, 0, key="models_channel")
    fv = mv.fold_view(training, block, int(channel))
    st.plotly_chart(kernels_figure(mv.kernel_grid(fv["branches"], fv["folded"])), width="stretch", key="models_kernels")
    (st.success if fv["error"] <= 1e-4 else st.error)(
        f"Folding error of this block (max |multi-branch − folded| on a random input): {fv['error']:.2e}"
    )

# ---------------------------------------------------------------- pruning trajectory
if summary and summary.get("pruning_rounds"):
    st.subheader("Pruning trajectory")
    traj = mv.trajectory(summary)
    st.plotly_chart(trajectory_figure(traj), width="stretch", key="models_traj")
    st.dataframe(
        traj.assign(MACs=traj["MACs"] / 1e6),
        hide_index=True,
        width="stretch",
        column_config={
            "params": st.column_config.NumberColumn("params", format="%,d"),
            "MACs": st.column_config.NumberColumn("MACs (M)", format="%.2f"),
            "accuracy": st.column_config.NumberColumn("macro acc after fine-tuning (%)", format="%.1f"),
            "accuracy after pruning": st.column_config.NumberColumn("macro acc right after pruning (%)", format="%.1f"),
            "sparsity": st.column_config.NumberColumn("sparsity", format="percent"),
        },
    )
    ch = mv.channels_frame(summary)
    if not ch.empty:
        import plotly.express as px

        st.plotly_chart(
            px.bar(ch, x="layer", y="channels", color="round", barmode="group", height=360),
            width="stretch",
            key="models_channels",
        )
