"""``models``, ``complexity`` and ``bench`` from the command line."""

import json

import pytest

from tests.conftest import run_cli as run


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_models_json_lists_every_model():
    r = run("models", "--json")
    assert r.returncode == 0, r.stderr
    names = {m["name"] for m in json.loads(r.stdout)}
    assert {
        "dcase24_baseline",
        "rep_mobile",
        "sscp_mobile",
        "cp_mobile",
        "cp_resnet",
        "bc_resnet",
        "tf_sepnet",
        "dssdn_s",
        "dssdn_m",
        "dssdn_l",
        "passt_tiny",
        "passt_s",
    } <= names


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_complexity_json_rep_mobile_deployed_and_training():
    r = run("complexity", "--model", "rep_mobile", "--width", "32", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["deployed"]["params"] == 61_148 and rep["deployed"]["macs"] == 29_419_156
    assert rep["deployed"]["bytes"] == {"fp32": 244_592, "fp16": 122_296, "int8": 61_148}
    assert rep["deployed"]["widest_precision"] == "fp16" and rep["deployed"]["meets_dcase"]
    assert rep["training"]["params"] > rep["deployed"]["params"]
    assert rep["deployed"]["layers"][0]["name"] == "in_c.0.0"


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_complexity_errors_are_one_line():
    r = run("complexity", "--model", "nope")
    assert r.returncode == 2 and r.stderr.startswith("error: unknown model 'nope'; valid models:")
    r = run("complexity", "--model", "rep_mobile", "--width", "33")
    assert r.returncode == 2 and "width must be a multiple of 8" in r.stderr


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_bench_quick_runs():
    r = run("bench", "models", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    folded = next(x for x in rows if x["model"] == "rep_mobile (folded)")
    assert folded["params"] == 61_148 and folded["ms_b1"] > 0
    r = run("bench", "data", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert row["preset"] == "tiny" and row["dcase24_clips_per_s"] > 0 and row["dcase24_cache_speedup"] > 1


def test_bench_cli_times_the_commands_that_do_not_train_and_they_load_no_torch():
    """`bench cli`: each command in a fresh process; listing runs and planning a table read the catalog and the
    store, never torch or Lightning (2.5 s of a 2-core CPU's time, every call)."""
    r = run("bench", "cli", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["command"].split(" --")[0]: x for x in json.loads(r.stdout)["rows"]}
    assert set(rows) == {"--help", "runs list", "tables plan"}, rows
    assert all(x["loads"] == "neither" and x["median s"] > 0 for x in rows.values()), rows


@pytest.mark.slow  # a subprocess that trains a few steps
def test_bench_teachers_measures_the_transformer_and_a_cnn_teacher(tiny_root):
    r = run("bench", "teachers", "--quick", "--json", env_extra={"ASC_DATA": str(tiny_root)})
    assert r.returncode == 0, r.stderr
    rows = {x["teacher"]: x for x in json.loads(r.stdout)["rows"]}
    assert rows["passt_tiny"]["logits clips/s"] > 0
    assert rows["cp_resnet-32"]["params"] == "127,684" and rows["cp_resnet-32"]["train step clips/s (batch 64)"] > 0


@pytest.mark.slow  # a subprocess with loader workers
def test_bench_loader_measures_workers_started_each_epoch_and_kept(tiny_root):
    r = run("bench", "loader", "--quick", "--json", env_extra={"ASC_DATA": str(tiny_root)})
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert row["subset %"] == 25 and row["clips"] > 0
    assert row["1 worker started each epoch: ms/epoch"] > 0 and row["1 worker kept: ms/epoch"] > 0


@pytest.mark.slow  # subprocesses that train
def test_bench_memory_measures_both_modes_in_fresh_processes():
    """Each mode in its own process with its own allocator settings: the low-memory mode's step peaks lower."""
    r = run("bench", "memory", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert row["network"] == "rep_mobile-32" and row["fast: clips/s"] > 0 and row["low: clips/s"] > 0
    assert row["low: peak MB"] < row["fast: peak MB"]


@pytest.mark.slow  # a subprocess
def test_a_reader_that_goes_away_gets_no_traceback():
    """`python -m asc_core models | head -1`: the pipe closes before the listing is printed."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "asc_core", "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader is gone before the command prints (it takes a second to start)
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
