"""Architecture rules that a reader cannot see at a glance: what the pages' core modules may import."""

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_queueing_and_planning_do_not_import_the_training_stack(tiny_root, tmp_path):
    """The Experiment, Jobs and Compare pages queue and plan runs through asc_core; none of that may pull in
    Lightning or NNI (the Streamlit process stays light, and the launch path has no training imports)."""
    code = textwrap.dedent(f"""
        import sys
        from asc_core import job_queue, jobs
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
        assert job_queue.queue_length(store) == 2
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


def _imports(path) -> set[str]:
    """The asc_core modules a file imports (top level and inside functions)."""
    import ast

    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return {m for m in out if m.startswith("asc_core")}


def test_layering():
    """models import neither data nor training; compress does not import train (no circle with the runner)."""
    from pathlib import Path

    pkg = Path(__file__).resolve().parent.parent / "asc_core"  # tests/ is one level down
    for sub, forbidden in (
        ("models", ("asc_core.data", "asc_core.train", "asc_core.compress")),
        ("compress", ("asc_core.train", "asc_core.data")),
        ("embedded", ("asc_core.train", "asc_core.models")),
    ):
        for f in (pkg / sub).glob("*.py"):
            bad = [m for m in _imports(f) if m.startswith(forbidden)]
            assert not bad, f"{f.relative_to(pkg.parent)} imports {bad}"
    for f in pkg.rglob("*.py"):
        for m in _imports(f):
            if m.startswith(("asc_core.app", "asc_core.devtools", "asc_core.cli")):
                ok = f.parent.name in ("app", "devtools", "cli") or f.name == "__main__.py"
                assert ok, f"{f.relative_to(pkg.parent)} imports {m}"
