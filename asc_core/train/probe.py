"""Difficulty probe: train a registry model briefly on each training subset and read the test set.

This is how the embedded dataset's difficulty is calibrated (accuracy must rise with the subset,
stay between 55 % and 85 % at 100 %, drop ≥ 10 points at 5 %, and be ≥ 5 points lower on unseen
devices s4–s6). A deliberately plain loop on cached log-mels (AdamW, linear warm-up then cosine,
time roll and frequency masking, no distillation) that lives with the trainer, not in the data package;
the full pipeline with Lightning answers other questions, this one "how hard is this data" in minutes, and
its figures (the calibration in the README) stay comparable because its loop does not change.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from asc_core.data.features import FeatureConfig, extract
from asc_core.data.labels import SCENES, SEEN_DEVICES, UNSEEN_DEVICES
from asc_core.data.tau22 import SUBSETS, TAU22Dataset

log = logging.getLogger(__name__)


@dataclass
class ProbeResult:
    subset: int
    train_clips: int
    epochs: int
    seconds: float
    accuracy: float  # macro class accuracy, %
    per_device: dict[str, float]

    @property
    def seen(self) -> float:
        return float(np.mean([self.per_device[d] for d in SEEN_DEVICES if d in self.per_device]))

    @property
    def unseen(self) -> float:
        return float(np.mean([self.per_device[d] for d in UNSEEN_DEVICES if d in self.per_device]))


def macro_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(SCENES)) -> float:
    accs = [np.mean(y_pred[y_true == c] == c) for c in range(n_classes) if np.any(y_true == c)]
    return float(100 * np.mean(accs))


def probe(
    ds: TAU22Dataset,
    subsets=SUBSETS,
    model: str = "dcase24_baseline",
    width: int = 32,
    epochs: int = 10,
    min_steps: int = 0,
    batch_size: int = 64,
    lr: float = 5e-3,
    seed: int = 0,
    progress=None,
) -> list[ProbeResult]:
    import torch
    import torch.nn.functional as F

    from asc_core.models import create_model

    cfg = FeatureConfig()
    test = ds.test()
    fs_test = extract(ds, test["filename"].tolist(), cfg)
    t_lab = test.set_index("filename").loc[fs_test.filenames]
    yt = t_lab["scene"].map(SCENES.index).to_numpy()
    xt = torch.from_numpy(np.asarray(fs_test.x, dtype=np.float32)).unsqueeze(1)
    results = []
    for pct in subsets:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        tr = ds.subset(pct)
        fs = extract(ds, tr["filename"].tolist(), cfg)
        y = torch.from_numpy(tr.set_index("filename").loc[fs.filenames]["scene"].map(SCENES.index).to_numpy())
        x = torch.from_numpy(np.asarray(fs.x, dtype=np.float32)).unsqueeze(1)
        net = create_model(model, width=width)
        steps_per_epoch = math.ceil(len(x) / batch_size)
        ep = max(epochs, math.ceil(min_steps / steps_per_epoch))
        total = ep * steps_per_epoch
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        warm = max(1, total // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: s / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
        )
        t0 = time.perf_counter()
        step = 0
        for e in range(ep):
            net.train()
            perm = torch.from_numpy(rng.permutation(len(x)))
            for i in range(0, len(x), batch_size):
                idx = perm[i : i + batch_size]
                xb = x[idx]
                xb = torch.roll(xb, int(rng.integers(-4, 5)), dims=3)
                f0 = int(rng.integers(0, xb.shape[2] - 48))
                xb[:, :, f0 : f0 + int(rng.integers(0, 48))] = 0
                loss = F.cross_entropy(net(xb), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if progress:
                    progress(pct, step, total)
        secs = time.perf_counter() - t0
        net.eval()
        with torch.inference_mode():
            pred = torch.cat([net(xt[i : i + 256]).argmax(1) for i in range(0, len(xt), 256)]).numpy()
        per_dev = {
            d: macro_accuracy(yt[m], pred[m])
            for d in t_lab["device"].unique()
            for m in [t_lab["device"].to_numpy() == d]
        }
        results.append(ProbeResult(pct, len(x), ep, secs, macro_accuracy(yt, pred), dict(sorted(per_dev.items()))))
        log.info("subset %d: %.1f%%", pct, results[-1].accuracy)
    return results
