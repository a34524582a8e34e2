"""Home: which dataset is loaded, what it holds, and a first look and listen."""

import pandas as pd
import streamlit as st

from asc_core import demo
from asc_core.app.views import clip_preview
from asc_core.data.check import check_dataset
from asc_core.data.labels import DEVICES, SCENES
from asc_core.paths import default_dataset_root
from asc_core.store import Store

st.title("ASC Lab")
st.caption("Data-efficient, low-complexity acoustic scene classification: subsets, teachers, pruning, devices.")

root = st.text_input("Dataset folder (TAU22 layout)", value=str(default_dataset_root()), key="home_root")


@st.cache_data(max_entries=8, show_spinner="Reading the dataset…")
def _report(path: str) -> dict:
    return check_dataset(path)


report = _report(root)
if not report["clips"]:
    st.error(report["problems"][0] if report["problems"] else f"No dataset at {root}")
    st.info(
        "Create the embedded dataset with `make app` or `python -m asc_core data synth --preset mini --out data/mini`."
    )
    st.stop()

store = Store()
if demo.bundle_available() and not store.list_runs("done"):
    d1, d2 = st.columns([3, 1])
    d1.info("No finished runs yet. Load three finished demo runs (made by this product on the `mini` set: the "
            "baseline, distillation from CP-ResNet, pruning 64 → 32) to explore Compare, Listen and Models "
            "now.")  # fmt: skip
    if d2.button("Load the demo runs", key="home_demo"):
        added = demo.load_bundle(store)
        st.success(f"Loaded {len(added)} finished run(s) into the store: see Compare, Listen and Models.")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Clips", f"{report['clips']:,}")
c2.metric("Training clips (100 %)", f"{report['rows']['split100']:,}")
c3.metric("Test clips", f"{report['rows']['test']:,}")
c4.metric("Problems", len(report["problems"]))
for p in report["problems"]:
    st.warning(p)

st.subheader("Clips per split and device")
st.dataframe(pd.DataFrame(report["devices"]).T.reindex(columns=list(DEVICES)).fillna(0).astype(int), width="stretch")

st.subheader("Listen to a scene")
col_a, col_b = st.columns([1, 3])
scene = col_a.selectbox("Scene", SCENES, key="home_scene")
device = col_a.selectbox("Device", DEVICES, key="home_device")
preview = clip_preview(root, scene, device)
if preview is None:
    col_b.info(f"No {scene} clip from device {device} in this dataset.")
else:
    col_b.caption(preview["filename"])
    col_b.audio(preview["wav"], format="audio/wav")
    col_b.plotly_chart(preview["figure"], width="stretch")

st.subheader("Where next")
for page, label, icon in (
    ("pages/data.py", "Explore — distributions, hear the device mismatch, a map of the clips", ":material/map:"),
    (
        "pages/experiment.py",
        "Experiment — subset, student, teachers, KD, pruning, budget; launch",
        ":material/science:",
    ),
    ("pages/jobs.py", "Jobs — live progress, curves, cancel / resume", ":material/timer:"),
    (
        "pages/compare.py",
        "Compare — accuracy vs MACs, data efficiency, per-device confusion, Tables IV and V",
        ":material/bar_chart:",
    ),
    ("pages/listen.py", "Listen — the clips a model gets wrong", ":material/headphones:"),
    ("pages/models.py", "Models — layers, budgets, folded kernels, pruning trajectories", ":material/memory:"),
    ("pages/tryit.py", "Try it — classify your own recording", ":material/mic:"),
    ("pages/learn.py", "Learn — distillation, re-parameterisation, pruning, hands on", ":material/school:"),
):
    st.page_link(page, label=label, icon=icon)
