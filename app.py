"""ASC Lab — Streamlit entry point. Pages are thin: they read state, call asc_core, draw."""

import streamlit as st

st.set_page_config(page_title="ASC Lab", page_icon="🎧", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Dataset", icon="🏙️", default=True),
]

st.navigation(PAGES).run()
