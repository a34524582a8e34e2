"""Try it: classify your own recording with a finished run (general or device-specific model)."""

import streamlit as st

from asc_core.app import tryit
from asc_core.app.plots import per_second_figure, topk_figure
from asc_core.app.views import samples_spectrogram
from asc_core.constants import UPLOAD_LIMIT_BYTES
from asc_core.data.audio import to_wav_bytes
from asc_core.data.errors import AudioError
from asc_core.data.labels import SAMPLE_RATE, SCENES
from asc_core.store import Store

st.title("Try it")
store = Store()
runs = {r["run_id"]: r for r in reversed(store.list_runs("done"))}
if not runs:
    st.info("No finished runs yet: train one on the Experiment page, then classify your own audio here.")
    st.stop()
c1, c2 = st.columns([3, 1])
run_id = c1.selectbox(
    "Model of run",
    list(runs),
    key="try_run",
    format_func=lambda i: f"{runs[i]['name'] or i} ({i}) — {runs[i]['summary']['macro_accuracy']:.1f} %",
)
device = c2.selectbox(
    "Recorded with device",
    tryit.device_choices(),
    key="try_device",
    help="a, b, c, s1–s3 use their device-specific model when the run has one",
)

src = st.radio("Audio", ["upload a file", "record"], horizontal=True, key="try_src")
if src == "upload a file":
    up = st.file_uploader(
        f"WAV, FLAC, MP3 or OGG (up to {UPLOAD_LIMIT_BYTES / 1e6:.0f} MB, 10 min)",
        type=["wav", "flac", "mp3", "ogg"],
        key="try_upload",
    )
else:
    up = st.audio_input("Record a few seconds", key="try_record")
if up is None:
    st.caption("Clips longer than 1 s are classified second by second and the probabilities averaged.")
    st.stop()

try:
    clip = tryit.read_upload(up.getvalue(), getattr(up, "name", "recording"))
except AudioError as e:
    st.error(f"Cannot classify this audio: {e}")
    st.stop()
for note in clip.notes:
    st.info(note)
model, features, what = tryit.run_model(str(store.root), run_id, None if device == "unknown" else device)
res = tryit.classify(model, clip.samples, features)
best, p = res["top"][0]
st.subheader(f"{best.replace('_', ' ')} — {p:.0%}")
st.caption(f"{what}; {res['seconds']:.1f} s of audio in {len(res['per_second'])} window(s).")
left, right = st.columns(2)
left.plotly_chart(topk_figure(res["top"]), width="stretch", key="try_topk")
left.audio(to_wav_bytes(clip.samples), format="audio/wav")
right.plotly_chart(samples_spectrogram(clip.samples[: 10 * SAMPLE_RATE], "first 10 s"), width="stretch", key="try_spec")
if len(res["per_second"]) > 1:
    st.plotly_chart(per_second_figure(res["per_second"], SCENES), width="stretch", key="try_seconds")
