"""ASC Lab — Streamlit entry point. Pages are thin: they read state, call asc_core, draw."""

import streamlit as st

from asc_core.access import password_ok, password_required
from asc_core.store_backends import StoreUnreachable

st.set_page_config(page_title="ASC Lab", page_icon=":material/headphones:", layout="wide")

if password_required() and not st.session_state.get("signed_in"):
    # served beyond this computer (ASC_HOST=...): the shared password first, once per browser session
    with st.form("sign in"):
        st.subheader("ASC Lab")
        given = st.text_input("Password", type="password", max_chars=256)
        if st.form_submit_button("Open"):
            if password_ok(given):
                st.session_state["signed_in"] = True
                st.rerun()
            st.error("That is not the password this lab was started with.")
    st.stop()

PAGES = {
    "Data": [
        st.Page("pages/home.py", title="Dataset", icon=":material/location_city:", default=True),
        st.Page("pages/data.py", title="Explore", icon=":material/map:"),
    ],
    "Experiments": [
        st.Page("pages/experiment.py", title="Experiment", icon=":material/science:"),
        st.Page("pages/jobs.py", title="Jobs", icon=":material/timer:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/bar_chart:"),
        st.Page("pages/listen.py", title="Listen", icon=":material/headphones:"),
        st.Page("pages/models.py", title="Models", icon=":material/memory:"),
        st.Page("pages/tryit.py", title="Try it", icon=":material/mic:"),
    ],
    "Learn": [st.Page("pages/learn.py", title="Learn", icon=":material/school:")],
}

try:
    st.navigation(PAGES).run()
except StoreUnreachable as e:  # a PostgreSQL store that is down: say which and why, not a traceback
    st.error(f"{e}. Start the database server or fix ASC_STORE, then reload this page.", icon=":material/database:")
