"""Channel pruning with NNI: targets met, speed-up real, Rep-Mobile still folds, save/reload, budgets."""

import pytest
import torch

from asc_core.app.model_views import randomise_bn
from asc_core.artifacts import load_run_model
from asc_core.complexity import BudgetError, measure
from asc_core.compress.prune import prune_once, rebuild, solve_budget
from asc_core.config import ConfigError, parse_config
from asc_core.export import export_run
from asc_core.models import create_model
from asc_core.models.rep_mobile import reparameterize_model
from asc_core.store import Store
from asc_core.train.runner import run_experiment
from tests.conftest import student_config

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)


def test_prune_rep_mobile_to_width_32_budget_folds_and_reloads():
    wide = create_model("rep_mobile", width=64)
    target = measure(create_model("dcase24_baseline", width=32))
    s, fig = solve_budget(wide, target.macs, target.bytes("fp16"), deploy=reparameterize_model, guess=0.5)
    assert fig.macs <= target.macs and fig.bytes("fp16") <= target.bytes("fp16")
    pruned = randomise_bn(prune_once(wide, s))
    deployed = measure(reparameterize_model(pruned))
    assert deployed.macs <= target.macs and deployed.params < measure(reparameterize_model(wide)).params / 3
    x = torch.randn(2, 1, 256, 65)
    assert (reparameterize_model(pruned)(x) - pruned(x)).abs().max() <= 1e-4  # still folds exactly
    # every branch of a depthwise stage kept the same channels
    for m in pruned.modules():
        if hasattr(m, "branches"):
            sizes = {(b if isinstance(b, torch.nn.BatchNorm2d) else b[1]).num_features for b in m.branches.values()}
            assert len(sizes) == 1
    again = rebuild(create_model("rep_mobile", width=64), pruned.state_dict()).eval()
    torch.testing.assert_close(again(x), pruned(x))


def test_unreachable_budget_fails_with_the_smallest_figures():
    with pytest.raises(
        BudgetError, match=r"budget unreachable: .*1,000 MACs.*smallest this model prunes to is [\d,]+ MACs"
    ):
        solve_budget(create_model("dcase24_baseline", width=32), 1_000, 128_000)


def test_pruning_config_errors():
    with pytest.raises(ConfigError, match="'single' needs exactly one target"):
        parse_config({"student": {"name": "rep_mobile", "width": 64}, "pruning": {"mode": "single", "chain": [48, 32]}})
    with pytest.raises(ConfigError, match="chain must decrease"):
        parse_config(
            {"student": {"name": "rep_mobile", "width": 96}, "pruning": {"mode": "progressive", "chain": [32, 64]}}
        )
    with pytest.raises(ConfigError, match="must start below student.width 32"):
        parse_config({"student": {"name": "rep_mobile", "width": 32}, "pruning": {"mode": "single", "chain": [32]}})
    for p in ("quick-single", "quick-progressive"):
        assert parse_config({"preset": p}).pruning.mode in ("single", "progressive")


def test_progressive_chain_in_a_real_run(progressive_run, tmp_path):
    store, s = progressive_run
    assert s["status"] == "done", s
    rounds = s["pruning_rounds"]
    assert [r["target_width"] for r in rounds] == [24, 16]
    for r, w in zip(rounds, (24, 16)):
        plain = measure(create_model("dcase24_baseline", width=w))
        assert r["meets_target"] and r["macs"] <= plain.macs and r["params"] <= plain.params
        assert r["channels"] and 0 <= r["accuracy_after_finetune"] <= 100
    assert rounds[1]["params"] < rounds[0]["params"] < rounds[0]["params_before"]
    assert s["complexity"]["params"] == rounds[-1]["params"]
    model = load_run_model(store, s["run_id"])  # structure and weights from a weights-only state dict
    assert model(torch.randn(2, 1, 256, 65)).shape == (2, 10)
    assert measure(model).params == rounds[-1]["params"]
    info = export_run(store, s["run_id"], "onnx", tmp_path / "pruned.onnx")  # the pruned network exports too
    assert info["max_abs_diff"] <= 1e-4


def test_unreachable_budget_fails_before_training(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    cfg = {
        "dataset": str(tiny_root),
        "student": {"name": "rep_mobile", "width": 32},
        "accelerator": "cpu",
        "pruning": {"mode": "single", "budget": {"macs": 1000, "bytes": 500}},
    }
    s = run_experiment(parse_config(cfg), store)
    assert s["status"] == "failed" and "budget unreachable" in s["error"]
    assert store.metrics(s["run_id"]).empty  # nothing was trained


def test_init_from_reuses_a_trained_student(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    base = student_config(tiny_root, 24)
    wide = run_experiment(parse_config(base), store)
    assert wide["status"] == "done", wide
    # epochs 0: the trained student as it is → same predictions as the source run
    same = run_experiment(
        parse_config(
            base | {"student": base["student"] | {"init_from": wide["run_id"]}, "optim": base["optim"] | {"epochs": 0}}
        ),
        store,
    )
    assert same["status"] == "done", same
    assert same["macro_accuracy"] == wide["macro_accuracy"]
    assert store.metrics(same["run_id"]).query("key == 'train_loss'").empty  # nothing retrained
    pruned = run_experiment(
        parse_config(
            base
            | {
                "student": base["student"] | {"init_from": wide["run_id"]},
                "optim": base["optim"] | {"epochs": 0},
                "pruning": {
                    "mode": "single",
                    "chain": [16],
                    "total_times": 1,
                    "interval_steps": 1,
                    "finetune_epochs": 1,
                },
            }
        ),
        store,
    )
    assert pruned["status"] == "done", pruned
    assert pruned["pruning_rounds"][0]["accuracy_before"] == pytest.approx(wide["macro_accuracy"], abs=1e-6)
    # a wrong source fails before any work, naming the problem
    with pytest.raises(ConfigError, match="needs student.init_from"):
        parse_config(base | {"optim": {"epochs": 0}})
    bad = run_experiment(
        parse_config(base | {"student": {"name": "rep_mobile", "width": 32, "init_from": wide["run_id"]}}), store
    )
    assert bad["status"] == "failed" and "trained rep_mobile width 24" in bad["error"]
    missing = run_experiment(parse_config(base | {"student": base["student"] | {"init_from": "nope"}}), store)
    assert missing["status"] == "failed" and "no run 'nope'" in missing["error"]


def test_pruning_schedule_spans_the_stated_epochs(progressive_run):
    _store, summary = progressive_run
    assert summary["status"] == "done", summary
    for r in summary["pruning_rounds"]:
        sched = r["schedule"]
        assert sched["updates"] == 2 and sched["schedule"] == "linear"
        assert sched["epochs"] == pytest.approx(1.0, abs=0.5)  # 2 updates spread over one epoch of KD training


def test_pruning_with_on_the_fly_features(tiny_root, tmp_path):
    """The schedule's training steps get waveforms in on-the-fly mode: they go through the log-mel first."""
    store = Store(tmp_path / "runs")
    cfg = {
        "dataset": str(tiny_root),
        "subset": 25,
        "feature_mode": "on_the_fly",
        "student": {"name": "dcase24_baseline", "width": 24},
        "optim": {"epochs": 1, "batch_size": 16, "validate_every": 100},
        "accelerator": "cpu",
        "pruning": {"mode": "single", "chain": [16], "total_times": 2, "schedule_epochs": 1, "finetune_epochs": 1},
    }
    s = run_experiment(parse_config(cfg), store)
    assert s["status"] == "done", s
    r = s["pruning_rounds"][0]
    assert r["meets_target"] and r["params"] < r["params_before"]


@pytest.mark.parametrize(
    "name, width, schedule, chain",
    [("seed001-s1", 64, "agp", []), ("seed001-s2", 96, "linear", []), ("seed001-s3", 96, "agp", [64])],
)
def test_seed001_presets_prune_to_the_dcase_budget(name, width, schedule, chain):
    from asc_core.compress.rounds import targets
    from asc_core.config import load_config

    cfg = load_config(name)
    assert (cfg.student.name, cfg.student.width, cfg.pruning.schedule, cfg.pruning.chain) == (
        "sscp_mobile",
        width,
        schedule,
        chain,
    )
    final = targets(cfg)[-1]
    assert (final["width"], final["macs"], final["bytes"], final["precision"]) == (None, 30_000_000, 128_000, "fp16")
    assert cfg.student_input_shape == (1, 1, 256, 63)  # their front end: hop 16 ms
