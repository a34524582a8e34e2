"""The LightningModule: any registry model, trained with labels or distilled from stored teacher logits.

It takes the config's parts (``Optim``, ``Augment``, ``KD``), not dicts. ``training_loss(batch)`` is the one
definition of a training step's loss — front end (on the fly), frequency masking, Freq-MixStyle, the KD loss
and a model's own regulariser — used by Lightning's ``training_step`` and by the pruning schedule's steps.
"""

from __future__ import annotations

import math

import torch
from lightning import LightningModule

from asc_core.config import KD, Augment, Optim
from asc_core.data.features import FEATURE_PRESETS, log_mel
from asc_core.memory import fit_memory
from asc_core.train.augment import freq_mask, freq_mixstyle
from asc_core.train.kd import kd_loss
from asc_core.train.layout import as_layout, prefers_channels_last, to_layout


class ASCModule(LightningModule):
    def __init__(
        self,
        model: torch.nn.Module,
        optim: Optim,
        augment: Augment,
        kd: KD | None = None,
        features: str = "dcase24",
        on_the_fly: bool = False,
        seed: int = 0,
        warmup_steps: int | None = None,
    ):
        super().__init__()
        self.model = model
        self.optim, self.aug, self.kd = optim, augment, kd
        self.warmup_steps = warmup_steps  # overrides optim.warmup_epochs (device fine-tuning: 200 steps)
        self.on_the_fly = on_the_fly
        # what a validation pass runs (on_validation_epoch_start), held in a dict: as an attribute the copy would be
        # registered as a submodule, its weights in parameters() and in a checkpoint saved while it is set
        self._val: dict[str, torch.nn.Module] = {}
        fcfg = FEATURE_PRESETS[features]()
        # a model with its own front end (PaSST) takes the waveform and does its own masking in training
        self.waveform_model = fcfg.kind == "waveform"
        self.mel = log_mel(fcfg) if on_the_fly and not self.waveform_model else None
        self.mask_fill = math.log(fcfg.log_offset)  # the log floor: what a masked mel bin is before the log
        self.gen = torch.Generator().manual_seed(seed)
        # convolutional students train in channels-last memory (oneDNN/cuDNN's fast layout: measured 1.4-1.6x per
        # step on a 2-core CPU, `bench train`); a waveform model (PaSST) keeps its own layout
        self.channels_last = not self.waveform_model and prefers_channels_last(model)
        # plain data only in the checkpoint (it is loaded with weights_only)
        self.save_hyperparameters(
            {
                "optim": optim.model_dump(),
                "augment": augment.model_dump(),
                "kd": kd.model_dump() if kd else None,
                "features": features,
                "on_the_fly": on_the_fly,
                "seed": seed,
                "warmup_steps": warmup_steps,
            }
        )

    def setup(self, stage=None):
        to_layout(self.model, self.channels_last)  # in place (same Parameter objects), before the optimiser
        fit_memory(self.model)  # ASC_LOW_MEMORY: Rep-Mobile recomputes its branches (same numbers, less memory)

    def forward(self, x, model: torch.nn.Module | None = None):
        if self.mel is not None:
            with torch.no_grad():
                x = self.mel(x)
        return (model or self.model)(as_layout(x, self.channels_last))

    def on_validation_epoch_start(self):
        # the same function in eval mode, folded and fused (models/fold.py): 2.3-2.8x cheaper a test clip
        from asc_core.models.fold import eval_network

        net = eval_network(self.model)
        if net is not None:
            to_layout(net, self.channels_last)  # the folded convolutions are new tensors
            self._val["net"] = net

    def on_validation_epoch_end(self):
        self._val.clear()

    def on_train_epoch_start(self):
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "train_set"):
            dm.train_set.epoch = self.current_epoch

    def training_loss(self, batch, model: torch.nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(loss, logits, parts) of one training batch for ``model`` (default: this module's)."""
        model = self.model if model is None else model
        x, y, _dev, _idx, teacher, _shift = batch
        if self.mel is not None:
            with torch.no_grad():
                x = self.mel(x)  # a submodule: Lightning moves it with the model
        if not self.waveform_model:
            x = freq_mask(x, self.aug.freqm, self.gen, self.mask_fill)
            x = freq_mixstyle(x, self.aug.mixstyle_alpha, self.aug.mixstyle_p, self.gen)
        logits = model(as_layout(x, self.channels_last))
        kd = self.kd
        t = teacher if (kd and teacher.numel()) else None
        loss, parts = kd_loss(logits, y, t, kd.lam if kd else 1.0, kd.tau if kd else 1.0, kd.variant if kd else "cpjku")
        if hasattr(model, "regularization_loss"):
            reg = model.regularization_loss()
            loss = loss + reg
            parts["reg"] = float(reg)
        return loss, logits, parts

    def training_step(self, batch, batch_idx):
        loss, logits, _parts = self.training_loss(batch)
        y = batch[1]
        self.log("train_loss", loss, prog_bar=False, on_step=True, on_epoch=True, batch_size=len(y))
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch[0], batch[1]
        logits = self(x, self._val.get("net"))
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), on_epoch=True, batch_size=len(y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True, batch_size=len(y))

    def configure_optimizers(self):
        o = self.optim
        params = self.model.parameters()
        if o.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        elif o.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=o.lr, weight_decay=o.weight_decay, momentum=0.9)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, o.epochs))
        warm = self.warmup_steps if self.warmup_steps is not None else int(o.warmup_epochs * per_epoch)
        cosine = o.schedule == "cosine"

        def factor(step):
            if step < warm:
                return (step + 1) / warm
            if not cosine:
                return 1.0
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
