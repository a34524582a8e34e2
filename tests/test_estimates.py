"""Duration estimates: from finished runs, else this machine's `bench train` figures, else the defaults."""

import json
import math

import pytest

from asc_core.config import parse_config
from asc_core.grid import estimate_seconds, wall_seconds
from asc_core.speeds import _DEFAULT_CLIPS_PER_S


def test_estimate_uses_this_machines_bench_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    cfg = parse_config({"student": {"name": "rep_mobile", "width": 64}, "optim": {"epochs": 10}})
    default = estimate_seconds(cfg, 1000)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cpu", "rates": {"rep_mobile@32": 200.0}}))
    # 1000 clips × 10 epochs at 200 clips/s × (32/64)^1.0 (width's exponent alone on this CPU) = 100 s, + 12 s for
    # features and evaluation
    assert estimate_seconds(cfg, 1000) == 112
    assert default != 112
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cuda", "rates": {"rep_mobile@32": 9e9}}))
    assert estimate_seconds(cfg, 1000) == default  # another device's figures are not this one's


def test_the_estimates_say_where_their_speeds_come_from(tmp_path, monkeypatch):
    """Defaults measured on another CPU can be off by several times: a plan says which figures it used, names
    this machine's CPU, and says when this machine's own `bench train` was measured on another CPU."""
    from asc_core.machine import cpu_name
    from asc_core.speeds import rates_source

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    said = rates_source("cpu")
    assert said.startswith("defaults measured on the 2-core CPU") and cpu_name() in said and "bench train" in said
    (tmp_path / "bench").mkdir()
    bench = {"device": "cpu", "rates": {"rep_mobile@32": 200.0}, "measured": 1795824000.0, "machine": {}}
    (tmp_path / "bench" / "train.json").write_text(json.dumps(bench | {"machine": {"cpu": cpu_name()}}))
    assert rates_source("cpu") == "this machine's `python -m asc_core bench train` of 28 Nov 2026"
    (tmp_path / "bench" / "train.json").write_text(json.dumps(bench | {"machine": {"cpu": "Another CPU 9000"}}))
    assert "on another CPU (Another CPU 9000" in rates_source("cpu") and "run it again here" in rates_source("cpu")
    assert rates_source("cuda").startswith("defaults measured on one H200")


def test_pruning_rounds_count_their_schedule_and_search():
    base = {"student": {"name": "rep_mobile", "width": 96}, "optim": {"epochs": 4}}
    plain = estimate_seconds(parse_config(base), 750)
    single = estimate_seconds(parse_config({**base, "pruning": {"mode": "single", "chain": [32]}}), 750)
    prog = estimate_seconds(parse_config({**base, "pruning": {"mode": "progressive", "chain": [64, 32]}}), 750)
    assert plain < single < prog  # each round: its schedule, fine-tuning, search and speed-up (costed below)


def test_a_pruning_round_fine_tunes_at_the_speed_of_the_network_it_leaves(tmp_path, monkeypatch):
    from asc_core.grid import stage_plan

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cpu", "rates": {"rep_mobile@32": 200.0}}))
    pruning = {"mode": "progressive", "chain": [64, 32], "schedule_epochs": 1, "finetune_epochs": 3}
    plan = stage_plan(parse_config({"student": {"name": "rep_mobile", "width": 96}, "pruning": pruning}), 900, [])
    # schedule: 1 epoch of 900 clips at width 96's 200/3 clips/s, NNI's masks making it 1.97× (1.35× at width
    # 64); fine-tuning: 3 at the round's target width, 1.2× the plain network's after a cut to two thirds or half
    # of the channels; + 20 s (the accuracy before, the search)
    w96, w64 = 200 / 3, 200 / 2
    assert plan["pruning round 1/2"] == pytest.approx(900 / w96 * 1.97 + 3 * 900 / w64 * 1.2 + 20)
    assert plan["pruning round 2/2"] == pytest.approx(900 / w64 * 1.35 + 3 * 900 / 200 * 1.2 + 20)
    gpu = stage_plan(parse_config({"student": {"name": "rep_mobile", "width": 96}, "pruning": pruning}), 900, [],
                     device="cuda")  # fmt: skip
    assert gpu["pruning round 2/2"] < plan["pruning round 2/2"]  # not measured there: the plain network's rates
    from asc_core.speeds import pruning_costs

    assert pruning_costs(48, 32, "cpu") == pytest.approx((1.35, 1.2))  # below the widths measured: the nearest
    assert 1.35 < pruning_costs(80, 40, "cpu")[0] < 1.97 and pruning_costs(80, 40, "cuda") == (1.0, 1.0)
    assert pruning_costs(96, 32, "cpu")[1] == pytest.approx(0.92)  # a deeper cut fine-tunes a smaller network
    assert 0.92 < pruning_costs(96, 40, "cpu")[1] < 1.2


def test_two_measured_widths_set_how_speed_falls_with_width(tmp_path, monkeypatch):
    """`bench train` measures Rep-Mobile at 32 and 96: their ratio, not a fixed exponent, scales the widths between
    (a width-96 run was once estimated at 32 min that took 11, from width²)."""
    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    (tmp_path / "bench").mkdir()
    rates = {"rep_mobile@32": 120.0, "rep_mobile@96": 40.0}  # 3× slower at 3× the width: exponent 1
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cpu", "rates": rates}))
    from asc_core.speeds import clips_per_s as _clips_per_s

    assert _clips_per_s("rep_mobile", 64, "cached", [], "cpu") == pytest.approx(40.0 * 96 / 64)  # nearest: 96
    assert _clips_per_s("rep_mobile", 48, "cached", [], "cpu") == pytest.approx(120.0 * 32 / 48)
    rates["rep_mobile@96"] = 500.0  # faster when wider: noise, held at the bound
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cpu", "rates": rates}))
    assert _clips_per_s("rep_mobile", 48, "cached", [], "cpu") == pytest.approx(120.0 * (32 / 48) ** 0.5)


def test_too_few_optimisation_steps_are_called_out_before_launch():
    from asc_core.grid import optimisation_steps, steps_warning

    quick = parse_config({"preset": "quick"})
    assert optimisation_steps(quick, 750) == 144 and steps_warning(quick, 750) is None
    short = parse_config({"preset": "quick", "optim": {"epochs": 3}})
    w = steps_warning(short, 750)
    assert "only 36 optimisation steps (750 clips / batch 64 × 3 epochs)" in w and "at least 10 epochs" in w


def test_weak_teacher_choices_are_named_on_a_cpu():
    from asc_core.grid import teacher_warnings

    assert any(
        "PaSST trained from scratch on a CPU stays weak" in w for w in teacher_warnings(["passt_tiny"], "scratch")
    )
    assert not teacher_warnings(["cp_resnet"], "scratch")
    assert any("1.5 clips/s" in w for w in teacher_warnings(["passt_s"], "audioset"))


def test_each_network_is_estimated_at_its_own_speed(tmp_path, monkeypatch):
    """BC-ResNet trains ~8× slower than Rep-Mobile here: it was once estimated at 4 min for runs of over an hour,
    and a teacher's stage was costed at its student's speed."""
    from asc_core.grid import stage_plan

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    rep = estimate_seconds(parse_config({"student": {"name": "rep_mobile"}, "optim": {"epochs": 10}}), 1000)
    bc = estimate_seconds(parse_config({"student": {"name": "bc_resnet"}, "optim": {"epochs": 10}}), 1000)
    assert bc > 4 * rep

    def teacher_s(name):
        cfg = parse_config({"student": {"name": "rep_mobile"}, "teachers": [{"model": {"name": name}}]})
        return stage_plan(cfg, 1000)["teacher 1/1"]

    assert teacher_s("bc_resnet") > 5 * teacher_s("cp_resnet")
    # a machine whose `bench train` measured only Rep-Mobile, at half the table's speed: the others follow it
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "train.json").write_text(json.dumps({"device": "cpu", "rates": {"rep_mobile@32": 50.0}}))
    table = _DEFAULT_CLIPS_PER_S["cpu"]
    assert teacher_s("bc_resnet") == pytest.approx(1000 * 10 / (table["bc_resnet"] * 50.0 / table["rep_mobile"]))


def test_wall_time_of_a_queue_shared_by_workers():
    """Each worker takes the next run as it frees: the campaign's wall time, not the sum `tables plan` prints."""
    assert wall_seconds([60, 30, 30, 60], 1) == 180
    assert wall_seconds([60, 30, 30, 60], 2) == 120  # 60 | 30 + 30, then the last 60 on whichever frees first
    assert wall_seconds([100, 10, 10], 2) == 100  # one long run bounds it
    assert wall_seconds([], 3) == 0


def test_wall_time_waits_for_the_runs_that_train_a_teacher_or_parent():
    """Table V at 5 %, one seed on this CPU: the width-96 run (57 min, its parent) and three runs pruning it (7, 12
    and 17.5 min). Costed as independent runs, two workers took 57 min; the pruning runs cannot start before their
    parent is trained, so it is 57 + 7 + 17.5 (81.5). Runs that need nothing fill the wait (a waiting run gives its
    worker to a run that can start), without lengthening it."""
    chain, after = [57, 7, 12, 17.5], [[], [0], [0], [0]]
    assert wall_seconds(chain, 2) == 57
    assert wall_seconds(chain, 2, after) == 81.5
    assert wall_seconds(chain, 1, after) == wall_seconds(chain, 1) == 93.5  # one worker: the sum, in any case
    assert wall_seconds([*chain, 17, 17], 2, [*after, [], []]) == 81.5  # two free runs fill the other worker's wait
    assert wall_seconds([10, 5, 5], 3, [[], [0], [1]]) == 20  # a chain runs one after another, whatever the workers


def test_a_teacher_or_parent_an_earlier_run_trains_is_paid_for_once(tiny_root, tmp_path):
    """Two runs pruning the same width-32 parent with the same teacher: the second waits for both and reuses
    them (the zoo's lock), so the plan costs them once."""
    from asc_core.data import open_dataset
    from asc_core.grid import clips_per_device, plan
    from asc_core.store import Store
    from tests.conftest import student_config

    teacher = [{"model": {"name": "cp_resnet", "width": 16}, "optim": {"epochs": 100}}]
    pruning = {"mode": "single", "chain": [16]}
    cfg = parse_config(student_config(tiny_root, 32, teachers=teacher, pruning=pruning, optim={"epochs": 100}))
    first, second = plan([cfg, cfg.model_copy(update={"name": "again"})], Store(tmp_path / "runs"))
    assert (first["teachers_ready"], second["teachers_ready"]) == (0, 1)
    clips, ds = first["train_clips"], open_dataset(tiny_root)
    data = {"eval_clips": len(ds.test()), "device_clips": clips_per_device(ds.subset(cfg.subset))}
    assert first["estimate_s"] == estimate_seconds(cfg, clips, [], teachers_ready=0, parent_ready=False, **data)
    assert second["estimate_s"] == estimate_seconds(cfg, clips, [], teachers_ready=1, parent_ready=True, **data)
    assert second["estimate_s"] < first["estimate_s"]
    assert (first["after"], second["after"]) == ([], [0])  # it waits for the first: the plan's wall time says so
    # the unpruned run of that width, seed and recipe comes first in a queue: it leaves its student as their parent
    # (train/parents.py), so the pruning run after it does not pay for one (`tables plan` had single 64→32 at 11 min
    # behind its width-64 run; it took 2.5)
    unpruned = cfg.model_copy(update={"pruning": parse_config({}).pruning, "name": "unpruned"})
    _, after = plan([unpruned, cfg], Store(tmp_path / "runs"))
    assert after["estimate_s"] == estimate_seconds(cfg, clips, [], teachers_ready=1, parent_ready=True, **data)
    assert after["after"] == [0]
    other = cfg.model_copy(update={"teachers": [], "seed": cfg.seed + 1, "name": "another seed"})
    assert [r["after"] for r in plan([unpruned, other, cfg], Store(tmp_path / "runs"))] == [[], [], [0]]


def test_device_fine_tuning_costs_each_device_its_own_clips(tiny_root):
    """Device A holds most of the clips (1,280 of 1,750 at the embedded set's 25 %): its fine-tuning is most of the
    stage, and a run's progress bar must not pass five sixths of it when A is done."""
    from asc_core.data import open_dataset
    from asc_core.grid import clips_per_device, stage_plan

    cfg = parse_config({"student": {"name": "rep_mobile"}, "device_finetune": {"enabled": True, "epochs": 10}})
    clips = {"a": 1280, "b": 100, "c": 100, "s1": 90, "s2": 90, "s3": 90}
    plan = stage_plan(cfg, 1750, [], device="cpu", device_clips=clips)
    rate = 1280 * 10 / (plan["device fine-tuning 1/6"] - 7.0)
    assert plan["device fine-tuning 2/6"] == pytest.approx(100 * 10 / rate + 7.0)
    assert plan["device fine-tuning 1/6"] > 10 * plan["device fine-tuning 4/6"] - 70
    even = stage_plan(cfg, 1750, [], device="cpu")  # no data at hand: an even split, the same total
    device_s = [sum(v for k, v in p.items() if k.startswith("device")) for p in (even, plan)]
    assert device_s[0] == pytest.approx(device_s[1])
    rows = open_dataset(tiny_root).subset(100)  # what the runner and the planner pass: the subset's rows counted
    counts = clips_per_device(rows)
    assert sum(counts.values()) == len(rows) and counts["a"] == (rows["device"] == "a").sum()


def test_validation_passes_are_costed_and_a_finished_run_predicts_its_repeat():
    """At 5 % a table run validates 12 times on 1,800 test clips against 60 epochs of 350: a fifth of its time,
    which the estimate left out. A finished run's seconds paid for its passes too: its rate is taken net of them, so
    the same config again is estimated at the seconds it took. A pruning round's fine-tuning validates likewise."""
    from asc_core.grid import stage_plan
    from asc_core.speeds import _EVAL_SPEEDUP, worker_threads
    from asc_core.speeds import clips_per_s as _clips_per_s

    cfg = parse_config({"student": {"name": "rep_mobile", "width": 96}, "teachers": [],
                        "optim": {"epochs": 60, "validate_every": 5}})  # fmt: skip
    bare = stage_plan(cfg, 350, [], device="cpu")["student training"]
    with_val = stage_plan(cfg, 350, [], device="cpu", eval_clips=1800)["student training"]
    assert with_val == pytest.approx(bare * (1 + 12 * 1800 / _EVAL_SPEEDUP / (60 * 350)))
    pruned = cfg.model_copy(update={"pruning": cfg.pruning.model_copy(update={"mode": "single", "chain": [32],
                                                                               "finetune_epochs": 10})})  # fmt: skip
    rounds = [stage_plan(pruned, 350, [], device="cpu", eval_clips=e)["pruning round 1/1"] for e in (0, 1800)]
    rate32 = _clips_per_s("rep_mobile", 32, pruned.feature_mode, [], "cpu")
    # it validates twice, as a network cut to a third (speeds._PRUNED_FINETUNE)
    assert rounds[1] - rounds[0] == pytest.approx(2 * 1800 / _EVAL_SPEEDUP / rate32 * 0.92)
    done = {"status": "done", "config": cfg.model_dump(mode="json"),
            "summary": {"seconds": 1178.0, "student": "rep_mobile", "train_clips": 350,
                        "threads": worker_threads(1)}}  # fmt: skip
    again = stage_plan(cfg, 350, [done], device="cpu", eval_clips=1800)["student training"]
    assert again == pytest.approx(1178.0)


def test_workers_training_at_once_share_the_cpu(tmp_path, monkeypatch):
    """A tables campaign runs two workers on a CPU, the app one. Each of two gets a fraction of one run alone,
    measured at two widths: the estimates were set from two-worker runs and said 1.6-2.5× too long for the app's one;
    read with this machine's `bench train` (one run alone) they said 45 % too short for two."""
    from asc_core.speeds import _SHARED, share

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))
    f = _SHARED["fraction"]
    assert share(32, 1, "cpu") == 1.0 and share(96, 2, "cuda") == 1.0  # alone; a GPU each
    assert share(32, 2, "cpu") == pytest.approx(f[32]) and share(96, 2, "cpu") == pytest.approx(f[96])
    assert f[96] < share(64, 2, "cpu") < f[32]  # between two measured widths: a power of the width
    assert share(64, 2, "cpu") == pytest.approx(f[32] * (f[96] / f[32]) ** (math.log(2) / math.log(3)))
    assert share(16, 2, "cpu") == pytest.approx(f[32]) and share(128, 2, "cpu") == pytest.approx(f[96])  # nearest
    assert share(32, 4, "cpu") == pytest.approx(f[32] / 2)  # the same total throughput split among four
    cfg = parse_config({"student": {"name": "rep_mobile", "width": 96}, "teachers": [], "optim": {"epochs": 10}})
    one, two = (estimate_seconds(cfg, 1000, workers=n) for n in (1, 2))
    assert two - 12 == pytest.approx((one - 12) / f[96], abs=1)  # the student's training, not the fixed stages
    # this machine's `bench train` measured its own: two Rep-Mobile-32 loops at 0.8 of one alone, two 96s at 0.5
    bench = {
        "device": "cpu",
        "rates": {"rep_mobile@32": 160.0, "rep_mobile@96": 54.0},
        "shared": {"workers": 2, "threads_each": 1, "rates": {"rep_mobile@32": 128.0, "rep_mobile@96": 27.0}},
    }
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "train.json").write_text(json.dumps(bench))
    from asc_core.speeds import clips_per_s

    assert share(32, 2, "cpu", bench) == pytest.approx(0.8) and share(96, 2, "cpu", bench) == pytest.approx(0.5)
    assert clips_per_s("rep_mobile", 96, "cached", [], "cpu", workers=2) == pytest.approx(27.0)
    assert clips_per_s("rep_mobile", 96, "cached", [], "cpu", workers=1) == pytest.approx(54.0)
    # a network it did not measure: the defaults scaled by this machine's Rep-Mobile, shared as a width-32 one
    table = _DEFAULT_CLIPS_PER_S["cpu"]
    assert clips_per_s("cp_resnet", None, "cached", [], "cpu", workers=2) == pytest.approx(
        table["cp_resnet"] * 160.0 / table["rep_mobile"] * 0.8
    )


def test_a_finished_run_predicts_only_runs_sharing_the_cpu_as_it_did():
    """Its seconds paid for what ran beside it: a run of one worker alone (2 threads here) does not predict a run of
    two workers (1 thread each), nor a run that did not say (before 28 Nov 2026)."""
    from asc_core.grid import stage_plan
    from asc_core.speeds import worker_threads

    cfg = parse_config({"student": {"name": "rep_mobile", "width": 32}, "teachers": [], "optim": {"epochs": 10}})

    def run(threads):
        summary = {"seconds": 50.0, "student": "rep_mobile", "train_clips": 1000}
        return {"status": "done", "config": cfg.model_dump(mode="json"),
                "summary": summary | ({"threads": threads} if threads else {})}  # fmt: skip

    def student_s(runs, workers):
        return stage_plan(cfg, 1000, runs, device="cpu", workers=workers)["student training"]

    assert student_s([run(worker_threads(2))], 2) == pytest.approx(50.0)
    if worker_threads(1) != worker_threads(2):  # one core: alone and shared are the same thread count
        assert student_s([run(worker_threads(1))], 2) == pytest.approx(student_s([], 2))
    assert student_s([run(None)], 1) == pytest.approx(student_s([], 1))


def test_a_run_slowed_by_other_work_on_its_cpu_predicts_only_when_no_other_run_can():
    """A run that got under 0.8 of its threads' CPU time (``machine.busy``: a test suite or a profile beside the
    campaign) trained slower than this machine does: the estimates leave it out, unless it is all there is."""
    from asc_core.grid import stage_plan
    from asc_core.speeds import worker_threads

    cfg = parse_config({"student": {"name": "rep_mobile", "width": 32}, "teachers": [], "optim": {"epochs": 10}})

    def run(seconds, share):
        summary = {"seconds": seconds, "student": "rep_mobile", "train_clips": 1000, "threads": worker_threads(1)}
        return {"status": "done", "config": cfg.model_dump(mode="json"),
                "summary": summary | ({"cpu_share": share} if share is not None else {})}  # fmt: skip

    def student_s(runs):
        return stage_plan(cfg, 1000, runs, device="cpu", workers=1)["student training"]

    assert student_s([run(50.0, 0.95), run(80.0, 0.6), run(90.0, 0.5)]) == pytest.approx(50.0)
    assert student_s([run(80.0, 0.6)]) == pytest.approx(80.0)  # the only word there is
    assert student_s([run(50.0, None), run(80.0, 0.6)]) == pytest.approx(50.0)  # before the record: not known busy


def test_the_estimates_count_the_workers_on_this_machine(tmp_path):
    """The app's Experiment page and `runs grid` cost a run with as many training beside it as there are workers
    here now (`make app WORKERS=2`: two); `tables plan --workers N` says how many."""
    import socket
    import subprocess
    import sys
    import time

    from asc_core.grid import local_workers
    from asc_core.store import Store

    store = Store(tmp_path)
    assert local_workers(store) == 1  # none yet: the run will have the machine to itself
    store.register_worker("q")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with store.tx() as con:  # a second worker process on this host, alive
            con.execute("INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?, ?)",
                        ("w2", socket.gethostname(), other.pid, "q", time.time(), time.time(), None))  # fmt: skip
        assert local_workers(store) == 2
    finally:
        other.kill()
        other.wait()
    assert local_workers(store) == 1  # a dead worker's row is not a worker


def test_rep_mobile_with_fewer_branches_trains_faster_and_learns_only_from_its_own_runs():
    """Table II's rows differ in Rep-Mobile's branches: each branch is a convolution the training step runs, so a
    run with two is estimated at 1.59x the default's clips/s (``_BRANCH_SPEED``), and a finished run of one branch set
    does not predict another's."""
    from asc_core.speeds import clips_per_s

    def cfg(branches=None):
        kw = {"kwargs": {"branches": branches}} if branches else {}
        return parse_config({"student": {"name": "rep_mobile", "width": 32, **kw}, "teachers": [],
                             "optim": {"epochs": 10}})  # fmt: skip

    default, two = cfg(), cfg(["3x3", "1x1"])
    assert clips_per_s("rep_mobile", 32, "cached", [], "cpu", kwargs={"branches": ["3x3", "1x1"]}) == pytest.approx(
        1.59 * clips_per_s("rep_mobile", 32, "cached", [], "cpu")
    )
    assert estimate_seconds(two, 1000) < estimate_seconds(default, 1000)
    assert clips_per_s("cp_resnet", 32, "cached", [], "cpu", kwargs={"branches": ["3x3"]}) == clips_per_s(
        "cp_resnet", 32, "cached", [], "cpu"
    )  # not a Rep-Mobile: no branches to count
    done = {"status": "done", "config": two.model_dump(mode="json"),
            "summary": {"seconds": 10.0, "student": "rep_mobile", "train_clips": 1000, "threads": None}}  # fmt: skip
    assert clips_per_s("rep_mobile", 32, "cached", [done], "cuda", kwargs={"branches": ["3x3", "1x1"]}) == 1000.0
    assert clips_per_s("rep_mobile", 32, "cached", [done], "cuda") != 1000.0  # the default's own rate, not theirs
