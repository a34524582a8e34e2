"""Architecture rules that a reader cannot see at a glance: what the pages' core modules may import."""

import subprocess
import sys
import textwrap


def test_queueing_and_planning_do_not_import_the_training_stack(tiny_root, tmp_path):
    """The Experiment, Jobs and Compare pages queue and plan runs through asc_core; none of that may pull in
    Lightning or NNI (the Streamlit process stays light, and the launch path has no training imports)."""
    code = textwrap.dedent(f"""
        import sys
        from asc_core import jobs
        from asc_core.app import compare
        from asc_core.app import plots
        from asc_core.app import views
        from asc_core.config import load_config
        from asc_core.grid import expand, final_complexity, plan
        from asc_core.store import Store

        store = Store({str(tmp_path / "runs")!r})
        cfgs = [c for _, c in expand({{"preset": "quick", "dataset": {str(tiny_root)!r}}}, {{"seed": [0, 1]}})]
        plan(cfgs, store)
        final_complexity(cfgs[0])
        ids = jobs.launch(cfgs, store, label="quick")
        assert len(ids) == 2 and store.get_run(ids[1])["group_name"] == "grid of 2 × quick"
        assert jobs.queue_length(store) == 2
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning", "nni")
                       or m == "asc_core.train.runner")
        print(heavy)
        assert not heavy, heavy
    """)
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={"ASC_QUEUE": "", "PATH": "/usr/bin:/bin", "ASC_CACHE": str(tmp_path / "cache")},
    )
    assert r.returncode == 0, r.stdout + r.stderr
