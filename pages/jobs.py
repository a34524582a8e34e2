"""Jobs: queued and running runs with progress and ETA, live curves, cancel / resume / retry, the log."""

import pandas as pd
import streamlit as st

from asc_core import health, job_queue, jobs
from asc_core.app.plots import learning_curves_figure
from asc_core.constants import ACTIVE_STATUSES
from asc_core.store import Store

st.title("Jobs")
store = Store()
store.mark_interrupted()

runs = store.list_runs()
active = [r for r in runs if r["status"] in ACTIVE_STATUSES]


@st.fragment(run_every=2 if active else None)
def live():
    store.mark_interrupted()  # before listing, so a dead worker's run shows as interrupted at once
    runs_now = store.list_runs()
    workers = store.live_workers()
    running = [r for r in runs_now if r["status"] == "running"]
    queued = [r for r in runs_now if r["status"] == "queued"]
    st.caption(
        f"{len(workers)} worker(s) alive · {len(running)} running · {len(queued)} queued · run store {store.describe()}"
    )
    if queued and not workers:
        st.warning(
            "Runs are queued but no worker is running. `make app` starts one; or run "
            "`python -m asc_core worker` (add `--queue redis://HOST:6379/0` to share a queue between machines)."
        )
    for r in running:
        with st.container(border=True):
            a, b = st.columns([5, 1])
            a.markdown(
                f"**{r['name'] or r['run_id']}** `{r['run_id']}` "
                f"{('· group ' + r['group_name']) if r['group_name'] else ''}"
            )
            if r.get("run_progress") is not None:  # the whole run, then the stage it is in
                a.progress(min(1.0, r["run_progress"]), text=jobs.run_progress_text(r))
            a.progress(min(1.0, r["progress"] or 0.0), text=jobs.progress_text(r))
            if r["cancel_requested"]:
                b.caption("stopping at the next batch…")
            elif b.button("Cancel", key=f"cancel_{r['run_id']}"):
                jobs.cancel(store, r["run_id"])
                st.rerun(scope="fragment")
    if queued:
        queued, can_reorder = job_queue.in_queue_order(store, queued)
        st.markdown(f"**Queue** ({len(queued)}, in the order the workers take them)")
        for i, r in enumerate(queued):
            a, b, c = st.columns([5, 1, 1])
            a.write(f"{i + 1}. {r['name'] or '(unnamed)'} `{r['run_id']}` — {r['stage'] or 'waiting'}")
            if i and can_reorder and b.button("Run next", key=f"next_{r['run_id']}", help="ahead of the queue"):
                job_queue.run_next(store, r["run_id"])
                st.rerun(scope="fragment")
            if c.button("Cancel", key=f"cancel_{r['run_id']}"):
                jobs.cancel(store, r["run_id"])
                st.rerun(scope="fragment")
    for g in sorted({r["group_name"] for r in running + queued if r["group_name"]}):
        n = sum(r["group_name"] == g for r in running + queued)
        if st.button(f"Cancel group “{g}” ({n} run(s))", key=f"cancel_group_{g}"):
            jobs.for_group(store, g, "cancel")
            st.rerun(scope="fragment")
    if not running and not queued:
        st.info("Nothing is running. Launch runs from the Experiment page or with `python -m asc_core submit`.")
    if active and not running and not queued:
        st.rerun()  # everything finished: refresh the whole page once and stop polling


live()

# ---------------------------------------------------------------- runs that need attention
attention = [r for r in reversed(runs) if r["status"] in ("failed", "interrupted", "cancelled")][:30]
if attention:
    st.subheader("Failed, interrupted and cancelled")
    for g in sorted({r["group_name"] for r in attention if r["group_name"]}):
        n = sum(r["group_name"] == g for r in attention)
        g1, g2, g3 = st.columns([3, 1, 1])
        g1.write(f"Group “{g}”: {n} run(s) to resume or retry")
        if g2.button("Resume group", key=f"resume_group_{g}"):
            jobs.for_group(store, g, "resume")
            st.rerun()
        if g3.button("Retry group", key=f"retry_group_{g}"):
            jobs.for_group(store, g, "retry")
            st.rerun()
    for r in attention:
        with st.expander(f"{r['status']}: {r['name'] or r['run_id']} ({r['run_id']}) — {r['error'] or ''}"):
            if r["traceback"]:
                st.code(r["traceback"], language="python")
            c1, c2 = st.columns(2)
            if c1.button("Resume from checkpoint", key=f"resume_{r['run_id']}"):
                jobs.resume(store, r["run_id"])
                st.rerun()
            if c2.button("Retry from scratch", key=f"retry_{r['run_id']}"):
                new = jobs.retry(store, r["run_id"])
                st.session_state["jobs_focus"] = new
                st.rerun()

# ---------------------------------------------------------------- one run in detail
if runs:
    st.subheader("A run in detail")
    ids = [r["run_id"] for r in reversed(runs)]
    focus = st.session_state.get("jobs_focus")
    running_ids = [r["run_id"] for r in runs if r["status"] == "running"]
    default = focus if focus in ids else (running_ids[0] if running_ids else ids[0])
    by_id = {r["run_id"]: r for r in runs}
    pick = st.selectbox(
        "Run",
        ids,
        index=ids.index(default),
        key="jobs_pick",
        format_func=lambda i: f"{i} · {by_id[i]['status']} · {by_id[i]['name'] or ''}",
    )

    @st.fragment(run_every=3 if by_id[pick]["status"] == "running" else None)
    def detail():
        r = store.get_run(pick)
        if r["status"] != by_id[pick]["status"]:  # finished (or failed) since the page drew the selector
            st.rerun()
        stage = jobs.progress_text(r) if r["status"] == "running" else r["stage"] or ""
        st.write(f"**{r['status']}**" + (f" — {stage}" if stage and stage != r["status"] else ""))
        m = store.metrics(pick)
        if not m.empty:
            st.plotly_chart(learning_curves_figure(m), width="stretch", key=f"curves_{pick}")
        else:
            st.caption("No metrics yet.")
        if r["summary"]:
            s = r["summary"]
            if health.warning(s):
                st.warning(health.warning(s))
            st.write(
                f"macro accuracy **{s['macro_accuracy']:.1f} %** "
                f"(seen {s['seen']:.1f} %, unseen {s['unseen']:.1f} %) · "
                f"{s['complexity']['params']:,} params · {s['complexity']['macs'] / 1e6:.2f} M MACs · "
                f"{jobs.time_text(s)}"
            )
            if s.get("pruning_rounds"):
                pr = pd.DataFrame(s["pruning_rounds"])
                cols = ["round", "target", "sparsity", "params", "macs", "accuracy_before", "accuracy_after_pruning",
                        "accuracy_after_finetune", "meets_target"]  # fmt: skip
                st.dataframe(
                    pr[[c for c in cols if c in pr]].assign(macs=pr["macs"] / 1e6),
                    hide_index=True,
                    column_config={
                        "sparsity": st.column_config.NumberColumn(format="percent"),
                        "params": st.column_config.NumberColumn(format="%,d"),
                        "macs": st.column_config.NumberColumn("MACs (M)", format="%.2f"),
                        **{c: st.column_config.NumberColumn(c.replace("_", " ") + " (%)", format="%.1f")
                           for c in cols if c.startswith("accuracy")},
                    },
                )  # fmt: skip
        log = jobs.log_tail(store, pick)
        with st.expander("Log", expanded=r["status"] in ("failed",)):
            st.code(log or "(no log: runs started with `train` print theirs to the terminal)", language="text")

    detail()
