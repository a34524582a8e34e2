"""The LightningModule: any registry model, trained with labels or distilled from stored teacher logits."""

from __future__ import annotations

import math

import torch
from lightning import LightningModule

from asc_core.data.features import FEATURE_PRESETS, log_mel
from asc_core.train.augment import freq_mask, freq_mixstyle
from asc_core.train.kd import kd_loss


class ASCModule(LightningModule):
    def __init__(self, model: torch.nn.Module, optim: dict, augment: dict, kd: dict | None = None,
                 features: str = "dcase24", on_the_fly: bool = False, seed: int = 0):
        super().__init__()
        self.model = model
        self.optim, self.aug, self.kd = optim, augment, kd
        self.on_the_fly = on_the_fly
        fcfg = FEATURE_PRESETS[features]()
        self.mel = log_mel(fcfg) if on_the_fly else None
        self.mask_fill = math.log(fcfg.log_offset)  # the log floor: what a masked mel bin is before the log
        self.gen = torch.Generator().manual_seed(seed)
        self.save_hyperparameters(ignore=["model"])

    def forward(self, x):
        if self.mel is not None:
            with torch.no_grad():
                x = self.mel(x)
        return self.model(x)

    def on_train_epoch_start(self):
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "train_set"):
            dm.train_set.epoch = self.current_epoch

    def training_step(self, batch, batch_idx):
        x, y, _dev, _idx, teacher, _shift = batch
        if self.mel is not None:
            with torch.no_grad():
                x = self.mel(x)
        x = freq_mask(x, self.aug["freqm"], self.gen, self.mask_fill)
        x = freq_mixstyle(x, self.aug["mixstyle_alpha"], self.aug["mixstyle_p"], self.gen)
        logits = self.model(x)
        t = teacher if (self.kd and teacher.numel()) else None
        loss, parts = kd_loss(logits, y, t, self.kd["lam"] if self.kd else 1.0, self.kd["tau"] if self.kd else 1.0,
                              self.kd["variant"] if self.kd else "cpjku")
        if hasattr(self.model, "regularization_loss"):
            reg = self.model.regularization_loss()
            loss = loss + reg
            parts["reg"] = float(reg)
        self.log("train_loss", loss, prog_bar=False, on_step=True, on_epoch=True, batch_size=len(y))
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch[0], batch[1]
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), on_epoch=True, batch_size=len(y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True, batch_size=len(y))

    def configure_optimizers(self):
        o = self.optim
        params = self.model.parameters()
        if o["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=o["lr"], weight_decay=o["weight_decay"])
        elif o["optimizer"] == "adamw":
            opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        else:
            opt = torch.optim.SGD(params, lr=o["lr"], weight_decay=o["weight_decay"], momentum=0.9)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, o["epochs"]))
        warm = int(o["warmup_steps"]) if o.get("warmup_steps") is not None else int(o["warmup_epochs"] * per_epoch)
        cosine = o["schedule"] == "cosine"

        def factor(step):
            if step < warm:
                return (step + 1) / warm
            if not cosine:
                return 1.0
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
