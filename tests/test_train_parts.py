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


def test_kd_loss_paper_by_hand():
    s = torch.tensor([[2.0, 0.0, -1.0]])
    t = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 3.0, 0.0]]])  # two teachers
    y = torch.tensor([0])
    lam, tau = 0.3, 2.0
    loss, parts = kd_loss(s, y, t, lam, tau, "paper")
    p = np.exp(s.numpy()[0] / tau) / np.exp(s.numpy()[0] / tau).sum()
    kls = []
    for k in range(2):
        q = np.exp(t.numpy()[0, k] / tau) / np.exp(t.numpy()[0, k] / tau).sum()
        kls.append(np.sum(p * (np.log(p) - np.log(q))))
    ce = -np.log(np.exp(2.0) / np.exp(s.numpy()[0]).sum())
    expected = lam * ce + (1 - lam) * np.mean(kls)
    assert math.isclose(float(loss), expected, rel_tol=1e-5)
    assert math.isclose(parts["ce"], ce, rel_tol=1e-5)


def test_kd_loss_cpjku_by_hand():
    s = torch.tensor([[0.5, -0.5, 1.0]])
    t = torch.tensor([[[1.0, 0.0, 0.0], [3.0, 0.0, 2.0]]])
    y = torch.tensor([2])
    loss, _ = kd_loss(s, y, t, 0.02, 2.0, "cpjku")
    q = F.softmax(t.mean(1) / 2, -1).numpy()[0]
    p = F.softmax(s / 2, -1).numpy()[0]
    kl = np.sum(q * (np.log(q) - np.log(p))) * 4
    ce = float(F.cross_entropy(s, y))
    assert math.isclose(float(loss), 0.02 * ce + 0.98 * kl, rel_tol=1e-5)
    assert float(kd_loss(s, y, None, 0.02, 2.0)[0]) == pytest.approx(ce)


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


def test_freq_mask_width():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(32, 1, 256, 10)
    y = freq_mask(x, 48, g)
    masked = (y[:, 0, :, 0] == 0).sum(1)
    assert masked.max() <= 48 and masked.float().mean() > 5


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
        np.testing.assert_array_equal(m["confusion_per_device"][d], confusion_matrix(y[sel], pred[sel], labels=range(10)))
    assert m["per_city"]["lyon"] == pytest.approx(100 * balanced_accuracy_score(y[cities == "lyon"], pred[cities == "lyon"]))
    assert m["unseen"] == pytest.approx(np.mean([m["per_device"][d] for d in ["s4", "s5", "s6"]]))


def test_bad_config_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"optim.lrate: unknown key"):
        parse_config({"optim": {"lrate": 0.1}})
    with pytest.raises(ConfigError, match=r"subset: must be one of 5, 10, 25, 50 or 100 \(got 30\)"):
        parse_config({"subset": 30})
    with pytest.raises(ConfigError, match=r"student.name: Value error, unknown model 'resnet'; allowed: .*rep_mobile"):
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
    assert (paper.optim.epochs, paper.optim.batch_size, paper.optim.lr, paper.optim.warmup_epochs) == (150, 128, 0.01, 5)
    assert (paper.augment.mixstyle_alpha, paper.augment.mixstyle_p, paper.augment.freqm, paper.augment.roll_ms) == (0.3, 0.7, 48, 125)
