"""One Lightning fit with progress written to the run store, cooperative cancel, checkpoints to resume."""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from asc_core.constants import Cancelled, Deferred  # noqa: F401  (raised here; importers take them from here too)
from asc_core.train.device import training_precision

# How often a run waiting for another run's teacher or parent asks whether a queued run could train instead (each
# ask reads up to next_run.LOOKAHEAD queued configs and the zoo).
YIELD_CHECK_S = 5.0


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint holding objects beyond tensors and plain data: refused, never unpickled."""


class WeightsOnlyCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O, reading with ``torch.load(weights_only=True)``: a resumed ``last.ckpt`` (the
    model, optimiser, scheduler and loop states are tensors and plain data) cannot run code when read back, even
    if someone replaced it on disk. Lightning's own loader unpickles everything."""

    def load_checkpoint(self, path, map_location=None):
        import pickle

        import torch

        try:
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            first = str(e).splitlines()[0][:200]
            raise UnsafeCheckpoint(
                f"{path}: refused, it holds more than tensors and plain data ({first}); delete it to retrain the stage"
            ) from None


class Reporter:
    """Writes a run's stage, epoch, step, progress and ETA to the store (throttled), and metrics."""

    def __init__(self, store=None, run_id: str | None = None, min_interval_s: float = 1.0, echo=None, yield_if=None):
        self.store, self.run_id, self.min_interval = store, run_id, min_interval_s
        self.echo = echo
        self.yield_if = yield_if  # a worker's run: whether a queued run could train now instead of this one waiting
        self._last = 0.0
        self.stage = ""
        self.peaks: dict[str, float] = {}  # stage → peak resident memory (MB)
        self.plan: dict[str, float] = {}  # stage key → estimated seconds (grid.stage_plan), for the whole run
        self.t0 = time.time()
        self.waited_s = 0.0  # seconds waited for another run's teacher or parent (``exclusive``), this attempt

    def set_plan(self, plan: dict[str, float]):
        self.plan, self.t0 = dict(plan), time.time()

    def run_progress(self, stage_progress: float) -> tuple[float | None, float | None]:
        """(the whole run's fraction done, seconds left): stages before this one count in full, this one by its
        progress; the ETA scales the remaining estimate by how fast the finished part went against its own."""
        key = self.stage.split(":")[0]
        if not self.plan or key not in self.plan:
            return None, None
        keys = list(self.plan)
        done = sum(self.plan[k] for k in keys[: keys.index(key)]) + self.plan[key] * min(1.0, stage_progress)
        total = sum(self.plan.values()) or 1.0
        elapsed = time.time() - self.t0
        speed = elapsed / done if done > 1.0 else 1.0  # actual seconds per estimated second so far
        return done / total, max(0.0, (total - done) * speed)

    def close_stage(self):
        """Record the stage that ends: its peak resident memory; give what it freed back to the system (its
        trainer's reference cycles collected, the heap trimmed), so the next stage starts low; start a new peak."""
        from asc_core.memory import peak_mb, release, reset_peak

        if self.stage:
            key = self.stage.split(":")[0]  # "pruning round 1/2: fine-tuning" → "pruning round 1/2"
            self.peaks[key] = round(max(self.peaks.get(key, 0.0), peak_mb()), 1)
        release()
        reset_peak()

    def set_stage(self, stage: str, **extra):
        self.close_stage()
        self.stage = stage
        if self.echo:
            self.echo(stage)
        if self.store and self.run_id:
            # a new stage starts from nothing: no epoch, step, % or ETA carried over from the last one
            run_p, run_eta = self.run_progress(0.0)
            self.store.update_run(self.run_id, stage=stage, progress=0.0, eta_s=None, epoch=None, step=None,
                                  **({"run_progress": run_p, "run_eta_s": run_eta} if run_p is not None else {}),
                                  **extra)  # fmt: skip

    def update(
        self,
        progress: float,
        epoch: int | None = None,
        step: int | None = None,
        eta_s: float | None = None,
        force: bool = False,
    ):
        now = time.time()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        if self.store and self.run_id:
            run_p, run_eta = self.run_progress(float(progress))
            self.store.update_run(self.run_id, progress=float(progress), epoch=epoch, step=step, eta_s=eta_s,
                                  run_progress=run_p, run_eta_s=run_eta)  # fmt: skip

    def metrics(self, epoch: int, step: int, values: dict):
        if self.store and self.run_id and values:
            self.store.log_metrics(self.run_id, self.stage, epoch, step, values)

    def cancel_requested(self) -> bool:
        return bool(self.store and self.run_id and self.store.cancel_requested(self.run_id))

    @contextmanager
    def exclusive(self, store, name: str, waiting: str):
        """``store.exclusive(name)`` (a zoo entry: a teacher, a pruning parent) for this run: while another run holds
        it, the stage says ``waiting`` once, and a cancel stops the wait. A worker's run also stops waiting when a
        queued run could train at once (``yield_if``, asked every ``YIELD_CHECK_S``): it raises ``Deferred`` and
        goes back to the queue. A PostgreSQL store's lock holds across machines. The wait's seconds go to
        ``waited_s`` (here and in the store): a run's training time leaves them out."""
        began, asked = [], [0.0]

        def on_wait():
            if not began:
                began.append(time.time())
                self.set_stage(waiting)
            if self.cancel_requested():
                raise Cancelled()
            if self.yield_if and time.time() - asked[0] >= YIELD_CHECK_S:
                asked[0] = time.time()
                if self.yield_if():
                    raise Deferred(f"{waiting}; back in the queue, so that runs that can start now go first")

        def wait_over():  # once: when the lock is taken, or when a cancel or a deferral ends the wait
            if began:
                seconds = time.time() - began.pop()
                self.waited_s += seconds
                if self.store and self.run_id:
                    self.store.add_wait(self.run_id, seconds)

        try:
            with store.exclusive(name, on_wait):
                wait_over()
                yield
        finally:
            wait_over()


class StoreCallback(Callback):
    def __init__(self, reporter: Reporter):
        self.r = reporter
        self.t0 = None
        self.cancelled = False
        self.validated = False  # this epoch ran the validation loop

    def on_train_start(self, trainer, pl_module):
        self.t0 = time.time()
        self.start_step = trainer.global_step

    def _progress(self, trainer, force: bool = False):
        total = max(1, trainer.estimated_stepping_batches)
        done = trainer.global_step
        rate = (done - self.start_step) / max(time.time() - self.t0, 1e-6)
        eta = (total - done) / rate if rate > 0 else None
        self.r.update(done / total, trainer.current_epoch, done, eta, force=force)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._progress(trainer)
        if batch_idx % 5 == 0 and self.r.cancel_requested():
            self.cancelled = True
            trainer.should_stop = True

    def on_validation_end(self, trainer, pl_module):
        self.validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module):
        # Lightning keeps the last validation's figures in callback_metrics: an epoch that did not validate (with
        # validate_every > 1) logged them again, and a learning curve drew steps where the model had moved on
        keys = ("train_loss_epoch", "train_acc") + (("val_loss", "val_acc") if self.validated else ())
        self.validated = False
        vals = {k: float(v) for k, v in trainer.callback_metrics.items() if k in keys}
        vals = {("train_loss" if k == "train_loss_epoch" else k): v for k, v in vals.items()}
        self.r.metrics(trainer.current_epoch, trainer.global_step, vals)
        self._progress(trainer, force=True)


class EpochCheckpoint(ModelCheckpoint):
    """``last.ckpt`` at the end of each whole epoch, and not at the end of one a cancel cut short. Lightning runs the
    epoch-end hooks when a stop ends an epoch early, and a checkpoint saved there counts the part-epoch as done: a
    resumed run skipped the rest of it (a Table V parent stopped mid-epoch trained 256 of its 330 steps, its
    learning rate never decayed, and it ended at 39.6 % where its twin reached 68.6). A cancelled run now resumes
    from its last whole epoch and trains every step of the recipe."""

    def __init__(self, store_callback, **kw):
        super().__init__(**kw)
        self.store_callback = store_callback

    def on_train_epoch_end(self, trainer, pl_module):
        if not self.store_callback.cancelled:
            super().on_train_epoch_end(trainer, pl_module)


def quiet_lightning():
    """Lightning's banner lines ("GPU available: False" ...) are noise in a CLI summary and in worker logs (set
    before each fit, not at import: other libraries such as NNI reset logging levels)."""
    for name in ["lightning.pytorch", "lightning.fabric", *logging.root.manager.loggerDict]:
        if name.startswith(("lightning", "pytorch_lightning")):
            logging.getLogger(name).setLevel(logging.WARNING)


def fit(
    module,
    datamodule,
    epochs: int,
    ckpt_dir: Path,
    reporter: Reporter,
    accelerator: str = "auto",
    devices: int = 1,
    resume: bool = False,
    validate_every: int = 1,
    deterministic: bool = True,
    accumulate: int = 1,
):
    """Train; raises Cancelled when the user cancelled (``last.ckpt`` holds the last whole epoch). On CUDA in mixed
    precision (bf16 where the GPU has it, else fp16 with loss scaling); fp32 on CPU. ``accumulate`` batches per
    optimiser step (a recipe's batch size on a smaller GPU)."""
    ckpt_dir = Path(ckpt_dir)
    quiet_lightning()
    cb = StoreCallback(reporter)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        precision=training_precision(accelerator),
        accumulate_grad_batches=accumulate,
        devices=devices,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=deterministic,
        check_val_every_n_epoch=validate_every,
        num_sanity_val_steps=0,
        callbacks=[
            cb,
            EpochCheckpoint(
                cb,
                dirpath=ckpt_dir,
                save_last=True,
                save_top_k=0,
                every_n_epochs=1,
                enable_version_counter=False,
                save_on_train_epoch_end=True,  # every epoch, whether or not it validates: a killed run resumes
            ),
        ],
        plugins=[WeightsOnlyCheckpointIO()],
    )
    last = ckpt_dir / "last.ckpt"
    if not resume:
        last.unlink(missing_ok=True)  # a stage done again starts afresh (no last-v1.ckpt beside a stale one)
    module.train()  # a pruned network comes back from NNI's speed-up in eval mode
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume and last.exists() else None)
    if cb.cancelled:  # last.ckpt is the last whole epoch's (EpochCheckpoint): a resume trains the rest from there
        raise Cancelled()
    return trainer
