"""Listen: a run's misclassified clips — click a confusion cell or filter, pick a clip, hear it at its
true loudness, see its spectrogram and what the student, its teachers and another run predicted."""

import numpy as np
import streamlit as st

from asc_core import health
from asc_core.app import compare, listen
from asc_core.app.plots import confusion_figure, probability_figure
from asc_core.app.views import clip_view
from asc_core.data.labels import DEVICES, SCENES
from asc_core.paths import default_dataset_root
from asc_core.store import Store

st.title("Listen to the mistakes")
store = Store()
done = [r for r in reversed(store.list_runs("done"))]
if not done:
    st.info("No finished runs yet: train one (Experiment page) and its test-set mistakes appear here.")
    st.stop()
by_id = {r["run_id"]: r for r in done}
c1, c2, c3 = st.columns([3, 2, 1])
run_id = c1.selectbox(
    "Run",
    list(by_id),
    key="listen_run",
    format_func=lambda i: f"{by_id[i]['name'] or i} ({i}) — {by_id[i]['summary']['macro_accuracy']:.1f} %"
    + (" — collapsed" if health.warning(by_id[i]["summary"]) else ""),
)
run = by_id[run_id]
if health.warning(run["summary"]):
    st.warning(health.warning(run["summary"]))
models = ["general"] + (["device_specific"] if (run["summary"] or {}).get("device_specific") else [])
model = c2.selectbox(
    "Model",
    models,
    key="listen_model",
    format_func=lambda m: "general model" if m == "general" else "device-specific models",
)
device = c3.selectbox("Device", ["all", *DEVICES], key="listen_device")
pred = store.predictions(run_id, model)
if pred.empty:
    st.warning(f"Run {run_id} has no stored predictions.")
    st.stop()

st.caption(
    "Click a cell (true scene × predicted scene) to list its clips. Rows: true scene; values: % of that "
    "scene's test clips" + ("" if device == "all" else f" recorded by device {device}") + "."
)
ev = st.plotly_chart(
    confusion_figure(compare.confusion_matrix(pred, device), SCENES),
    on_select="rerun",
    selection_mode="points",
    key="listen_cm",
    width="stretch",
)
points = ev["selection"]["points"]
cell = (points[0]["y"], points[0]["x"]) if points else None
if cell and cell != st.session_state.get("listen_cell"):  # a new click sets the filters; they stay editable
    st.session_state["listen_cell"] = cell
    st.session_state["listen_true"], st.session_state["listen_pred"] = cell
    st.session_state["listen_wrong"] = cell[0] != cell[1]

f1, f2, f3, f4 = st.columns(4)
true = f1.selectbox("True scene", ["all", *SCENES], key="listen_true")
predicted = f2.selectbox("Predicted scene", ["all", *SCENES], key="listen_pred")
conf = f3.slider("Confidence of the prediction", 0.0, 1.0, (0.0, 1.0), 0.05, key="listen_conf")
st.session_state.setdefault("listen_wrong", True)
only_wrong = f4.toggle("Only mistakes", key="listen_wrong")
table = listen.clip_table(pred, device, true, predicted, only_wrong, conf)
st.write(f"**{len(table)} clip(s)**" + (" — most confident mistakes first" if only_wrong else ""))
sel = st.dataframe(
    table,
    key="listen_table",
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    height=260,
    column_config={
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1, format="%.2f"),
        "p_true": st.column_config.NumberColumn("p(true)", format="%.2f"),
    },
)
rows = sel["selection"]["rows"]
if table.empty:
    st.stop()
row = table.iloc[rows[0] if rows else 0]

# ---------------------------------------------------------------- one clip: one player
st.subheader(
    f"{row['filename'].split('/')[-1]} — true {row['true']}, predicted {row['predicted']} "
    f"({row['confidence']:.0%}), device {row['device']}, {row['city']}"
)
root = run["config"].get("dataset") or str(default_dataset_root())
try:
    view = clip_view(root, row["filename"])
except Exception as e:  # the dataset moved or the file is gone: say so, keep the page
    st.error(f"Cannot play {row['filename']}: {e}")
    st.stop()
left, right = st.columns([1, 1])
left.audio(view["wav"], format="audio/wav")
left.plotly_chart(view["figure"], width="stretch", key="listen_spec")
others = [i for i in by_id if i != run_id]
other_id = right.selectbox(
    "Compare with another run",
    ["none", *others],
    key="listen_other",
    format_func=lambda i: i if i == "none" else f"{by_id[i]['name'] or i} ({i})",
)
student = np.asarray(pred.loc[pred["filename"] == row["filename"], "probs"].iloc[0])
teachers = {}
for e in listen.run_teachers(store, run):
    try:
        teachers[e["model"]] = listen.teacher_probs(e, view["samples"])
    except Exception as err:
        right.caption(f"teacher {e['model']}: cannot load its checkpoint ({err})")
other = None
if other_id != "none":
    op = store.predictions(other_id)
    hit = op[op["filename"] == row["filename"]]
    if hit.empty:
        right.caption(f"Run {other_id} did not predict this clip (another dataset?).")
    else:
        other = (f"run {by_id[other_id]['name'] or other_id}", np.asarray(hit["probs"].iloc[0]))
right.plotly_chart(
    probability_figure(listen.probability_frame(student, teachers, other), row["true"]),
    width="stretch",
    key="listen_probs",
)
