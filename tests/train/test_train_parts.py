"""Pieces of the training engine checked against hand computations and reference libraries."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asc_core.config import ConfigError, load_config, parse_config
from asc_core.train.augment import freq_mask, freq_mixstyle
from asc_core.train.evaluate import metrics
from asc_core.train.kd import kd_loss


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_kd_loss_paper_is_kl_teacher_to_student_by_hand():
    """Eq. (1) in PyTorch's argument order: KL(teacher_k ‖ student) per teacher, averaged over teachers and batch."""
    s = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    t = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 3.0, 0.0]], [[0.5, 0.0, 2.0], [1.0, 1.0, 1.0]]])  # B=2, K=2
    y = torch.tensor([0, 2])
    lam, tau = 0.3, 2.0
    loss, parts = kd_loss(s, y, t, lam, tau, "paper")
    kls, rev = [], []
    for b in range(2):
        p = _softmax(s.numpy()[b] / tau)
        for k in range(2):
            q = _softmax(t.numpy()[b, k] / tau)
            kls.append(np.sum(q * (np.log(q) - np.log(p))))  # teacher first
            rev.append(np.sum(p * (np.log(p) - np.log(q))))
    ce = float(F.cross_entropy(s, y))
    assert math.isclose(float(loss), lam * ce + (1 - lam) * np.mean(kls), rel_tol=1e-5)
    assert math.isclose(parts["kd"], np.mean(kls), rel_tol=1e-5)
    assert math.isclose(parts["ce"], ce, rel_tol=1e-5)
    # the same as PyTorch's kl_div(student log-probs, teacher probs) — the call eq. (1) is written after
    ref = np.mean(
        [
            float(F.kl_div(F.log_softmax(s / tau, -1), F.softmax(t[:, k] / tau, -1), reduction="batchmean"))
            for k in range(2)
        ]
    )
    assert math.isclose(parts["kd"], ref, rel_tol=1e-5)
    # the reverse direction is a separate, explicitly named variant
    _, prev = kd_loss(s, y, t, lam, tau, "paper_reverse")
    assert math.isclose(prev["kd"], np.mean(rev), rel_tol=1e-5)
    assert not math.isclose(prev["kd"], parts["kd"], rel_tol=1e-3)


def test_kd_loss_cpjku_matches_their_reduction_by_hand():
    """CP-JKU: KLDivLoss(reduction="none", log_target=True)(...).mean() * τ² — a mean over batch AND classes."""
    s = torch.tensor([[0.5, -0.5, 1.0], [2.0, 0.0, -1.0]])
    t = torch.tensor([[[1.0, 0.0, 0.0], [3.0, 0.0, 2.0]], [[0.0, 0.0, 1.0], [1.0, 2.0, 0.0]]])
    y = torch.tensor([2, 0])
    tau = 2.0
    loss, parts = kd_loss(s, y, t, 0.02, tau, "cpjku")
    terms = []
    for b in range(2):
        q = _softmax(t.numpy()[b].mean(0) / tau)
        p = _softmax(s.numpy()[b] / tau)
        terms.extend(q * (np.log(q) - np.log(p)))  # elementwise, then the mean over 2 clips × 3 classes
    kd = np.mean(terms) * tau**2
    ce = float(F.cross_entropy(s, y))
    assert math.isclose(parts["kd"], kd, rel_tol=1e-5)
    assert math.isclose(float(loss), 0.02 * ce + 0.98 * kd, rel_tol=1e-5)
    # their exact call
    ref = (
        torch.nn.KLDivLoss(reduction="none", log_target=True)(
            F.log_softmax(s / tau, -1), F.log_softmax(t.mean(1) / tau, -1)
        ).mean()
        * tau**2
    )
    assert math.isclose(parts["kd"], float(ref), rel_tol=1e-6)
    assert float(kd_loss(s, y, None, 0.02, 2.0)[0]) == pytest.approx(ce)
    with pytest.raises(ValueError, match="KD variant"):
        kd_loss(s, y, t, 0.02, 2.0, "hinton")


def test_freq_mixstyle_mixes_per_frequency_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 16, 50) * torch.linspace(0.5, 3, 16).view(1, 1, 16, 1) + torch.arange(8.0).view(8, 1, 1, 1)
    y = freq_mixstyle(x, 0.3, 1.0, g)
    mu_x, mu_y = x.mean((1, 3)), y.mean((1, 3))
    sd_x, sd_y = x.std((1, 3), unbiased=False), y.std((1, 3), unbiased=False)
    # every output statistic is a convex mix of two inputs' statistics: inside the batch's range per bin
    assert torch.all(mu_y >= mu_x.min(0).values - 1e-4) and torch.all(mu_y <= mu_x.max(0).values + 1e-4)
    assert torch.all(sd_y >= sd_x.min(0).values - 1e-3) and torch.all(sd_y <= sd_x.max(0).values + 1e-3)
    assert not torch.allclose(y, x)
    # normalised content is kept: per clip and bin, y is an affine map of x with positive slope
    corr = ((x - mu_x[:, None, :, None]) * (y - mu_y[:, None, :, None])).mean(3)
    assert torch.all(corr > 0)
    assert torch.equal(freq_mixstyle(x, 0.3, 0.0, g), x)  # p = 0: untouched


def test_freq_mask_width_and_log_floor():
    """Masked bins read log(1e-5), as when the baseline masks the mel power before its log."""
    g = torch.Generator().manual_seed(0)
    x = torch.ones(32, 1, 256, 10)
    y = freq_mask(x, 48, g)
    masked = (y[:, 0, :, 0] != 1).sum(1)
    assert masked.max() <= 48 and masked.float().mean() > 5
    assert torch.all((y == 1) | ((y - math.log(1e-5)).abs() < 1e-5))
    # the same as torchaudio's FrequencyMasking on the power followed by the log
    power = torch.full((1, 1, 256, 10), math.e)
    rows = y[0, 0, :, 0] != 1
    masked_power = power.clone()
    masked_power[..., rows, :] = 0.0
    assert torch.allclose(torch.log(masked_power + 1e-5)[0, 0], y[0, 0], atol=1e-5)


def _clip_set(views: int, roll: int = 4):
    from asc_core.train.data import ClipSet

    n, t = 6, 40
    x = np.tile(np.arange(t, dtype=np.float16), (n, 3, 1))  # [N, F, T]: the frame index, to read shifts back
    teacher = np.random.default_rng(0).normal(size=(n, views, 1, 10)).astype(np.float32)
    shifts = np.zeros((n, views), dtype=int)
    shifts[:, 1:] = np.arange(1, views)[None, :] * np.array([[1], [-1], [2], [-2], [3], [-3]])
    return ClipSet(
        x, np.zeros(n, int), np.zeros(n, int), train=True, roll=roll, seed=0, teacher=teacher, shifts=shifts
    ), shifts


def test_student_is_rolled_under_distillation_with_one_view():
    """One stored view (the `paper` preset): the student is rolled anyway against the fixed logits."""
    cs, _ = _clip_set(views=1, roll=4)
    seen = set()
    for epoch in range(4):
        cs.epoch = epoch
        for i in range(len(cs)):
            x, _y, _d, _i, tl, shift = cs[i]
            assert tl.shape == (1, 10) and -4 <= shift <= 4
            assert torch.equal(x[0, 0], torch.roll(torch.arange(40.0), shift))  # the input is shifted by `shift`
            seen.add(shift)
    assert len(seen - {0}) >= 3


def test_student_sees_the_teachers_view_with_several_views():
    cs, shifts = _clip_set(views=3, roll=4)
    used = set()
    for epoch in range(6):
        cs.epoch = epoch
        for i in range(len(cs)):
            x, *_rest, tl, shift = cs[i]
            v = [k for k in range(3) if torch.equal(tl, torch.from_numpy(cs.teacher[i, k]))][0]
            assert shift == shifts[i, v]  # the view's stored shift, whose logits ride along
            assert torch.equal(x[0, 0], torch.roll(torch.arange(40.0), shift))
            used.add(shift)
    assert len(used - {0}) >= 3


def test_persistent_loader_workers_draw_each_epochs_augmentation():
    """Loader workers now stay up across epochs: the epoch rides with each index (EpochSampler), so they draw each
    clip's roll for its epoch, in the order and with the draws of the loader before (workers started every epoch)."""
    from torch.utils.data import DataLoader

    from asc_core.train.data import EpochSampler

    cs, _ = _clip_set(views=1, roll=4)

    def epochs(loader) -> list:
        out = []
        for e in range(4):
            cs.epoch = e
            out.append([(int(i), int(s)) for b in loader for i, s in zip(b[3], b[5])])
        return out

    def gen():
        return torch.Generator().manual_seed(0)

    before = epochs(DataLoader(cs, batch_size=4, shuffle=True, generator=gen()))
    assert len({tuple(e) for e in before}) == 4  # each epoch its own order and rolls

    def sampled(**kw) -> list:  # as ASCDataModule.train_dataloader builds it
        g = gen()
        sampler = EpochSampler(cs, g, persistent=bool(kw))
        return epochs(DataLoader(cs, batch_size=4, sampler=sampler, generator=g, **kw))

    kept = {"num_workers": 2, "persistent_workers": True}
    assert sampled() == before and sampled(**kept) == before
    # the workers' copies of the set stay at the epoch they started in without it
    assert epochs(DataLoader(cs, batch_size=4, shuffle=True, generator=gen(), **kept)) != before


def test_per_device_metrics_match_sklearn():
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, log_loss

    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 10, n)
    probs = rng.dirichlet(np.ones(10), n)
    probs[np.arange(n), y] += rng.random(n)  # better than chance
    probs /= probs.sum(1, keepdims=True)
    devices = rng.choice(["a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"], n)
    cities = rng.choice(["lyon", "paris"], n)
    m = metrics(y, probs, devices.tolist(), cities.tolist())
    pred = probs.argmax(1)
    assert m["macro_accuracy"] == pytest.approx(100 * balanced_accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(log_loss(y, probs, labels=list(range(10))), rel=1e-4)
    for d in ["a", "s4"]:
        sel = devices == d
        assert m["per_device"][d] == pytest.approx(100 * balanced_accuracy_score(y[sel], pred[sel]))
        np.testing.assert_array_equal(
            m["confusion_per_device"][d], confusion_matrix(y[sel], pred[sel], labels=range(10))
        )
    assert m["per_city"]["lyon"] == pytest.approx(
        100 * balanced_accuracy_score(y[cities == "lyon"], pred[cities == "lyon"])
    )
    assert m["unseen"] == pytest.approx(np.mean([m["per_device"][d] for d in ["s4", "s5", "s6"]]))


def test_bad_config_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"optim.lrate: unknown key"):
        parse_config({"optim": {"lrate": 0.1}})
    with pytest.raises(ConfigError, match=r"subset: must be one of 5, 10, 25, 50 or 100 \(got 30\)"):
        parse_config({"subset": 30})
    with pytest.raises(ConfigError, match=r"student.name: unknown model 'resnet'; allowed: .*rep_mobile"):
        parse_config({"student": {"name": "resnet"}})
    with pytest.raises(ConfigError, match="dir_p > 0 needs feature_mode: on_the_fly"):
        parse_config({"augment": {"dir_p": 0.5}})
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        parse_config({"preset": "fast"})
    p = tmp_path / "c.yaml"
    p.write_text("preset: quick\nsubset: 10\n")
    cfg = load_config(p, ["optim.epochs=3", "teachers.0.optim.epochs=1", "kd.tau=1.5"])
    assert (cfg.subset, cfg.optim.epochs, cfg.teachers[0].optim.epochs, cfg.kd.tau) == (10, 3, 1, 1.5)
    assert cfg.student.name == "rep_mobile"
    with pytest.raises(ConfigError, match="--set expects key=value"):
        load_config(p, ["optim.epochs"])


def test_presets_validate():
    for name in ["quick", "paper"]:
        cfg = parse_config({"preset": name})
        assert cfg.name == name
    paper = parse_config({"preset": "paper"})
    assert (paper.optim.epochs, paper.optim.batch_size, paper.optim.lr, paper.optim.warmup_epochs) == (
        150,
        128,
        0.01,
        5,
    )
    assert (paper.augment.mixstyle_alpha, paper.augment.mixstyle_p, paper.augment.freqm, paper.augment.roll_ms) == (
        0.3,
        0.7,
        48,
        125,
    )


def test_a_planted_checkpoint_is_refused_not_unpickled(tmp_path):
    from asc_core.train.loop import UnsafeCheckpoint, WeightsOnlyCheckpointIO
    from tests.conftest import PlantedPickle

    marker = tmp_path / "pwned"
    bad = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "x": PlantedPickle(marker)}, bad)
    with pytest.raises(UnsafeCheckpoint, match="last.ckpt: refused, it holds more than tensors"):
        WeightsOnlyCheckpointIO().load_checkpoint(bad)
    assert not marker.exists()
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3, "loops": {"a": [1, 2.0, "x", None]}}, good)
    assert WeightsOnlyCheckpointIO().load_checkpoint(good)["epoch"] == 3


def test_loader_workers_outlive_a_stop_signal_and_die_with_a_killed_parent(tmp_path):
    """SIGINT to the process group (`tables run` stopping its workers, Ctrl-C) reaches the loader's workers too: they
    ignore it, so the training process checkpoints at its next batch instead of failing on a dead loader (an H100
    run stopped during validation once did: "DataLoader worker exited unexpectedly"). SIGKILL to the parent: they go."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from tests.conftest import ROOT

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time, torch\n"
        "from torch.utils.data import DataLoader, Dataset\n"
        "from asc_core.train.data import die_with_parent\n"
        "class Slow(Dataset):\n"
        "    def __len__(self): return 100\n"
        "    def __getitem__(self, i): time.sleep(60); return i\n"
        "it = iter(DataLoader(Slow(), num_workers=1, worker_init_fn=die_with_parent))\n"
        "import psutil; time.sleep(2)\n"
        "print(*[c.pid for c in psutil.Process().children()], flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers, "the loader started no worker"
    for p in workers:
        os.kill(p, signal.SIGINT)
    time.sleep(1)
    assert all(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(
        psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in workers
    ):
        time.sleep(0.2)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in workers)


def test_whole_run_progress_weighs_stages_by_their_cost():
    from asc_core.train.loop import Reporter

    r = Reporter()
    r.set_plan({"teacher 1/1": 10.0, "student training": 30.0, "evaluation": 10.0})
    r.stage = "student training"
    frac, eta = r.run_progress(0.5)
    assert frac == pytest.approx(25 / 50) and eta is not None and eta >= 0
    r.stage = "pruning round 9/9: search"  # a stage the plan does not know: no whole-run figure, not a wrong one
    assert r.run_progress(0.5) == (None, None)


def test_a_wait_for_another_runs_lock_is_timed_apart_from_training(tmp_path):
    """The seconds a run waits for a teacher or parent another run holds go to ``waited_s`` (the run's and the
    store's), whether the wait ends in the lock or in a cancel: its training time leaves them out."""
    import threading

    from asc_core.store import Store
    from asc_core.train.loop import Cancelled, Reporter

    store = Store(tmp_path / "runs")
    run_id = store.create_run({}, status="running")
    r = Reporter(store, run_id)
    with store.exclusive("zoo-k"):  # another run holds it (flock: another open of the file, even in this process)
        threading.Timer(1.5, store.request_cancel, (run_id,)).start()
        with pytest.raises(Cancelled):
            with r.exclusive(store, "zoo-k", "teacher 1/1: waiting for it"):
                pass
    assert r.stage == "teacher 1/1: waiting for it"
    assert 1.5 <= r.waited_s < 10 and store.get_run(run_id)["waited_s"] == pytest.approx(r.waited_s)
    with r.exclusive(store, "zoo-k", "waiting"):  # free: no wait, nothing added
        pass
    assert store.get_run(run_id)["waited_s"] == pytest.approx(r.waited_s)


def test_validation_runs_the_folded_network_and_measures_the_same(tiny_root, monkeypatch):
    """Rep-Mobile validates folded (one depthwise conv per block, not five branches) and fused (no BatchNorm left):
    in eval mode the same function, so the same val_loss and val_acc as the training-time network. A network in
    training mode is not folded; one with nothing to fold is still fused."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from asc_core.config import Augment, Optim
    from asc_core.data import open_dataset
    from asc_core.models import create_model, fold
    from asc_core.models import rep_mobile as rm
    from asc_core.train.data import ASCDataModule
    from asc_core.train.module import ASCModule

    torch.manual_seed(0)
    model = create_model("rep_mobile", width=16).train()
    with torch.no_grad():  # running statistics away from their initial 0 / 1, so folding has something to fold
        for _ in range(3):
            model(torch.randn(8, 1, 256, 65) * 3 + 1)
    assert fold.eval_network(model) is None  # training mode: BatchNorm on the batch, not what folding bakes in
    teacher = create_model("cp_resnet", width=16).eval()
    fused = fold.eval_network(teacher)  # nothing to fold, its Conv→BatchNorm pairs fused
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(4, 1, 256, 65)
    with torch.no_grad():
        assert (fused(x) - teacher(x)).abs().max() <= 1e-4
    assert fold.eval_network(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)).eval()) is None

    class Seen(Callback):
        folded = []

        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            m = pl_module._val.get("net")
            assert not any(n.startswith("_val") for n, _ in pl_module.named_parameters())  # not a submodule
            self.folded.append(
                m is not None
                and all(d.inference_mode for d in m.modules() if isinstance(d, rm.RepDepthwise))
                and not any(isinstance(d, torch.nn.BatchNorm2d) for d in m.modules())
            )

    def validate():
        dm = ASCDataModule(open_dataset(tiny_root), 100, "dcase24", "cached", 32, 0, 0)
        module = ASCModule(model, Optim(epochs=1), Augment())
        trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                            callbacks=[Seen()])  # fmt: skip
        return trainer.validate(module, datamodule=dm, verbose=False)[0]

    folded = validate()
    assert Seen.folded and all(Seen.folded)
    assert all(
        isinstance(d, rm.RepDepthwise) and not d.inference_mode
        for d in model.modules()
        if isinstance(d, rm.RepDepthwise)
    )  # fmt: skip  (the model itself is left as it trains)
    monkeypatch.setattr(fold, "eval_network", lambda m: None)
    Seen.folded = []
    unfolded = validate()
    assert not any(Seen.folded)
    assert folded["val_loss"] == pytest.approx(unfolded["val_loss"], abs=1e-4)
    assert folded["val_acc"] == pytest.approx(unfolded["val_acc"], abs=1e-6)
