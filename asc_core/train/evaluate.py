"""Evaluation of the deployed model on the test split: the DCASE metric and its breakdowns.

The deployed model is the folded network with its weights stored at the chosen precision. On a CPU,
fp16 convolutions have no fast kernel, so fp16 is evaluated as fp16-rounded weights computed in fp32;
on a GPU the model runs in half precision.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from asc_core.data.labels import DEVICES, SCENES, SEEN_DEVICES, UNSEEN_DEVICES
from asc_core.models.rep_mobile import reparameterize_model
from asc_core.train.layout import as_layout, prefers_channels_last, to_layout


def deploy(model: torch.nn.Module, precision: str = "fp16") -> torch.nn.Module:
    """Folded copy in eval mode with weights rounded to ``precision``."""
    m = reparameterize_model(model).eval()
    if precision == "fp16":
        m = copy.deepcopy(m).half().float()
    return m


@torch.inference_mode()
def predict(model: torch.nn.Module, loader, device: str = "cpu", mel=None, half: bool = False) -> np.ndarray:
    """Class probabilities [N, C] for the loader's clips (in loader order)."""
    model = model.to(device).eval()
    if half:
        model = model.half()
    cl = prefers_channels_last(model)
    to_layout(model, cl)
    if mel is not None:
        mel = mel.to(device)
    out = []
    for batch in loader:
        x = batch[0].to(device)
        if mel is not None:
            x = mel(x)
        if half:
            x = x.half()
        out.append(torch.softmax(model(as_layout(x, cl)).float(), dim=-1).cpu())
    return torch.cat(out).numpy()


def test_probs(model: torch.nn.Module, dm, accelerator: str = "auto", precision: str = "fp32") -> np.ndarray:
    """Test-split probabilities of ``model`` (deployed or not) for a DataModule: on CUDA in true half precision
    when ``precision`` is fp16, fp32 on CPU; waveforms go through the DataModule's front end in on-the-fly mode."""
    from asc_core.data.features import log_mel
    from asc_core.train.device import compute_device

    device = compute_device(accelerator)
    mel = log_mel(dm.fcfg) if dm.mode == "on_the_fly" and dm.fcfg.kind == "logmel" else None
    return predict(model, dm.test_dataloader(), device, mel, half=(precision == "fp16" and device == "cuda"))


def test_metrics(probs: np.ndarray, dm) -> dict:
    """``metrics`` of test-split probabilities against a DataModule's test rows."""
    rows = dm.test_rows
    return metrics(rows["scene"].map(SCENES.index).to_numpy(), probs, rows["device"].tolist(), rows["city"].tolist())


def _macro(y_true, y_pred, n=len(SCENES)):
    accs = [float(np.mean(y_pred[y_true == c] == c)) for c in range(n) if np.any(y_true == c)]
    return 100 * float(np.mean(accs)) if accs else float("nan")


def confusion(y_true, y_pred, n=len(SCENES)) -> list[list[int]]:
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m.tolist()


def metrics(y_true: np.ndarray, probs: np.ndarray, devices: list[str], cities: list[str]) -> dict:
    """Accuracy, macro class accuracy (DCASE), log loss, per device/class/city, confusion matrices."""
    y_true = np.asarray(y_true)
    y_pred = probs.argmax(1)
    devices, cities = np.asarray(devices), np.asarray(cities)
    p_true = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1)
    per_device = {d: _macro(y_true[devices == d], y_pred[devices == d]) for d in DEVICES if np.any(devices == d)}
    out = {
        "accuracy": 100 * float(np.mean(y_pred == y_true)),
        "macro_accuracy": _macro(y_true, y_pred),
        "log_loss": float(-np.mean(np.log(p_true))),
        "per_device": per_device,
        "seen": float(np.mean([per_device[d] for d in SEEN_DEVICES if d in per_device]))
        if per_device
        else float("nan"),
        "unseen": float(np.mean([per_device[d] for d in UNSEEN_DEVICES if d in per_device]))
        if any(d in per_device for d in UNSEEN_DEVICES)
        else float("nan"),
        "per_class": {
            s: 100 * float(np.mean(y_pred[y_true == i] == i)) for i, s in enumerate(SCENES) if np.any(y_true == i)
        },
        "per_city": {c: _macro(y_true[cities == c], y_pred[cities == c]) for c in sorted(set(cities))},
        "confusion": confusion(y_true, y_pred),
        "confusion_per_device": {d: confusion(y_true[devices == d], y_pred[devices == d]) for d in per_device},
        "n": int(len(y_true)),
    }
    return out
