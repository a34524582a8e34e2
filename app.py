"""ASC Lab — Streamlit entry point. Pages are thin: they read state, call asc_core, draw."""

import streamlit as st

st.set_page_config(page_title="ASC Lab", page_icon="🎧", layout="wide")

PAGES = {
    "Data": [
        st.Page("pages/home.py", title="Dataset", icon="🏙️", default=True),
        st.Page("pages/data.py", title="Explore", icon="🗺️"),
    ],
    "Experiments": [
        st.Page("pages/experiment.py", title="Experiment", icon="🧪"),
        st.Page("pages/jobs.py", title="Jobs", icon="⏱️"),
        st.Page("pages/compare.py", title="Compare", icon="📊"),
        st.Page("pages/listen.py", title="Listen", icon="🎧"),
        st.Page("pages/models.py", title="Models", icon="🧩"),
        st.Page("pages/tryit.py", title="Try it", icon="🎙️"),
    ],
    "Learn": [st.Page("pages/learn.py", title="Learn", icon="🎓")],
}

st.navigation(PAGES).run()
