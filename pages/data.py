"""Data: distributions of scenes, devices and cities per split; hear the device mismatch on a parallel
recording; a 2-D map of the clips' log-mels where a click plays the clip."""

import plotly.express as px
import streamlit as st

from asc_core.app import data_views as dv
from asc_core.app.views import clip_view, clip_views_shared
from asc_core.constants import SUBSETS
from asc_core.data import open_dataset_cached
from asc_core.data.errors import DatasetError
from asc_core.paths import default_dataset_root

st.title("Explore the data")
root = st.text_input("Dataset folder", value=str(default_dataset_root()), key="data_root")


try:
    ds = open_dataset_cached(root)
except DatasetError as e:
    st.error(str(e))
    st.stop()

splits = [str(s) for s in SUBSETS] + ["test"]
split = st.selectbox(
    "Split",
    splits,
    index=splits.index("25"),
    key="data_split",
    format_func=lambda s: "test" if s == "test" else f"training subset {s} %",
)
rows = dv.split_rows(ds, split)
st.caption(
    f"{len(rows):,} clips, {rows['location'].nunique()} locations, {rows['city'].nunique()} cities, "
    f"devices {', '.join(sorted(rows['device'].unique()))}."
)
t1, t2, t3 = st.tabs(["scene × device", "scene × city", "device × city"])
for tab, (a, b) in zip((t1, t2, t3), (("scene", "device"), ("scene", "city"), ("device", "city"))):
    d = dv.distribution(rows, a, b)
    tab.plotly_chart(
        px.imshow(
            d, text_auto=True, aspect="auto", color_continuous_scale="Blues", labels=dict(color="clips")
        ).update_layout(height=420),
        width="stretch",
        key=f"data_dist_{a}_{b}",
    )

# ---------------------------------------------------------------- hear the device mismatch
st.subheader("Hear the device mismatch")
par = dv.parallel_recordings(ds)
if par.empty:
    st.info("This dataset has no recording captured by several devices.")
else:
    c1, c2 = st.columns([3, 1])
    rec = c1.selectbox(
        "Recording (captured by every device at once)",
        par["recording"],
        key="data_rec",
        format_func=lambda r: "{} — {}, {}".format(r, *par.set_index("recording").loc[r, ["scene", "city"]]),
    )
    n_seg = int(par.set_index("recording").loc[rec, "segments"])
    segs = sorted(ds.clips[ds.clips["recording"] == rec]["segment"].unique())
    seg = c2.selectbox("1-s segment", segs, key="data_seg")
    clips = dv.parallel_segment(ds, rec, int(seg))
    st.caption(
        f"The same second as recorded by {len(clips)} devices (a: the reference device; s4–s6 never appear "
        f"in training). {n_seg} segments in this recording."
    )
    cols = st.columns(3)
    views = clip_views_shared(root, clips["filename"].tolist(), [f"device {d}" for d in clips["device"]])
    st.caption("One dB colour scale for all devices: a quieter or duller device looks it.")
    for i, ((_, r), v) in enumerate(zip(clips.iterrows(), views)):
        with cols[i % 3]:
            st.audio(v["wav"], format="audio/wav")
            st.plotly_chart(v["figure"].update_layout(height=220), width="stretch", key=f"data_par_{r['device']}")

# ---------------------------------------------------------------- feature explorer
st.subheader("Feature explorer")
f1, f2, f3 = st.columns(3)
method = f1.selectbox(
    "Map", ["pca", "tsne"], key="data_method", format_func=lambda m: {"pca": "PCA", "tsne": "t-SNE"}[m]
)
colour = f2.selectbox("Colour by", ["scene", "device", "city"], key="data_colour")
n = f3.number_input("Clips", 100, 3000, 600, step=100, key="data_n")


@st.cache_data(max_entries=8, show_spinner="Computing log-mels and the map…")
def _map(path, split, n, method):
    d = open_dataset_cached(path)
    return dv.feature_map(d, dv.sample_files(dv.split_rows(d, split), int(n)), method)


fm = _map(root, split, n, method)
fig = px.scatter(fm, x="x", y="y", color=colour, hover_data=["filename", "scene", "device", "city"], height=520)
fig.update_traces(marker=dict(size=6))
ev = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="data_map", width="stretch")
pts = ev["selection"]["points"]
if pts:
    hit = fm[(fm["x"] - pts[0]["x"]).abs().add((fm["y"] - pts[0]["y"]).abs()).idxmin() == fm.index]
    r = hit.iloc[0]
    v = clip_view(root, r["filename"], title=f"{r['scene']} · device {r['device']} · {r['city']}")
    st.audio(v["wav"], format="audio/wav")
    st.plotly_chart(v["figure"], width="stretch", key="data_map_clip")
else:
    st.caption("Click a point to hear its clip. Pooled log-mels: mean and std of each mel band over time.")
