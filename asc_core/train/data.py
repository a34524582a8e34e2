"""Lightning data: a training subset and the test set, from cached log-mels or decoded on the fly.

Cached mode reads the float16 feature cache (time roll in frames); on-the-fly mode decodes waveforms
(time roll in samples, device impulse responses on device-a clips) and the LightningModule computes
the log-mel on its device. Teacher logits, when given, ride along per clip: ``[K views, T teachers, C]``
with the roll shift of each view. With K > 1 views the student sees the input its teachers saw (a random
view and its shift); with one view the student is rolled anyway against the fixed logits, as CP-JKU's code
trains its students, so the time roll never silently disappears under distillation.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from asc_core.data.audio import fit_length
from asc_core.data.errors import AudioError
from asc_core.data.features import FEATURE_PRESETS, FeatureConfig, extract
from asc_core.data.labels import DEVICES, SCENES
from asc_core.train.augment import apply_ir, load_irs


def die_with_parent(_worker_id: int = 0) -> None:
    """In a DataLoader worker: the kernel kills it when its parent dies (a SIGKILLed training process would
    otherwise leave its loader workers, ~500 MB each, blocked on a pipe for tens of minutes; Linux only). And it
    ignores SIGINT: a stop sent to the process group (`tables run` ending its workers, Ctrl-C) is the training
    process's to handle — it checkpoints at its next batch and then shuts its loaders down — where a worker dying of
    it first failed the run ("DataLoader worker exited unexpectedly") instead of leaving it resumable."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the loader's own watchdog ends them when it notices


class ClipSet(Dataset):
    """Items: (input, label, device index, clip index, teacher logits or empty, roll shift)."""

    def __init__(
        self,
        x=None,
        labels=None,
        devices=None,
        *,
        wave_source=None,
        train=False,
        roll=0,
        seed=0,
        teacher=None,
        shifts=None,
        irs=None,
        dir_p=0.0,
    ):
        self.x, self.labels, self.devices = x, labels, devices
        self.wave_source = wave_source  # (dataset, filenames, FeatureConfig) for on-the-fly decoding
        self.train, self.roll, self.seed = train, roll, seed
        self.teacher, self.shifts = teacher, shifts
        self.irs, self.dir_p = irs or [], dir_p
        self.epoch = 0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, item):
        # (epoch, index) from EpochSampler: a persistent loader worker holds a copy of this set made at its start,
        # so the epoch comes with the index; a plain index draws for the epoch this copy knows
        epoch, i = item if isinstance(item, tuple) else (self.epoch, item)
        rng = np.random.default_rng([self.seed, epoch, i])
        tl = torch.empty(0)
        shift = 0
        views = self.teacher.shape[1] if self.teacher is not None else 0
        if views:
            v = int(rng.integers(views))
            tl = torch.from_numpy(np.asarray(self.teacher[i, v], dtype=np.float32))
        if views > 1:  # K stored views: the student sees the view its teachers saw
            shift = int(self.shifts[i, v])
        elif self.train and self.roll:
            # no teacher, or one stored view: roll anyway, against fixed logits with a teacher (CP-JKU's practice:
            # their student is trained with time roll against one set of stored PaSST logits)
            shift = int(rng.integers(-self.roll, self.roll + 1))
        if self.wave_source is None:
            x = torch.from_numpy(np.asarray(self.x[i], dtype=np.float32)).unsqueeze(0)
            if shift:
                x = torch.roll(x, shift, dims=-1)
        else:
            ds, files, cfg = self.wave_source
            try:
                w = fit_length(ds.load(files[i], cfg.sample_rate_hz, warn=False).samples, cfg.clip_samples)
            except AudioError:
                w = np.zeros(cfg.clip_samples, dtype=np.float32)  # reported by the feature pass; silent here
            if self.train and self.irs and self.devices[i] == 0 and rng.random() < self.dir_p:
                w = apply_ir(w, self.irs[int(rng.integers(len(self.irs)))])
            if shift:
                w = np.roll(w, shift * cfg.hop_length)
            x = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)).unsqueeze(0)
        return x, int(self.labels[i]), int(self.devices[i]), i, tl, shift


class EpochSampler(Sampler):
    """The training order of ``DataLoader(shuffle=True, generator=g)`` — ``torch.randperm(n, generator=g)`` per
    epoch, one generator across epochs — with each index paired with the epoch ``dataset.epoch`` names when the
    epoch's iteration starts (in the main process, after ``on_train_epoch_start`` set it). So loader workers can stay
    up across epochs (``persistent_workers``) and still draw each clip's augmentation for its epoch; before, they were
    started afresh every epoch to see it, and every validation."""

    def __init__(self, dataset: ClipSet, generator: torch.Generator, persistent: bool = False):
        self.dataset, self.generator, self.persistent = dataset, generator, persistent
        self._iterations = 0

    def __len__(self):
        return len(self.dataset)

    def __iter__(self):
        epoch, n = self.dataset.epoch, len(self.dataset)
        if self.persistent and self._iterations:
            # a loader started afresh draws its workers' base seed from the generator before the order; a persistent
            # one draws it once: draw it here, so each epoch's order stays the one the runs were recorded with
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        self._iterations += 1
        yield from ((epoch, i) for i in torch.randperm(n, generator=self.generator).tolist())
        torch.randperm(n, generator=self.generator)  # RandomSampler draws a second one (its empty remainder) at the end


class ASCDataModule(LightningDataModule):
    def __init__(
        self,
        dataset,
        subset: int,
        features: str = "dcase24",
        mode: str = "cached",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        roll_ms: float = 125.0,
        dir_p: float = 0.0,
        dir_folder=None,
        teacher_logits=None,
        teacher_shifts=None,
        train_filter=None,
        progress=None,
    ):
        super().__init__()
        self.ds, self.subset, self.mode, self.features = dataset, subset, mode, features
        self.fcfg: FeatureConfig = FEATURE_PRESETS[features]()
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.roll = int(round(roll_ms / 1000 * self.fcfg.sample_rate_hz / self.fcfg.hop_length))
        self.dir_p, self.dir_folder = dir_p, dir_folder
        self.teacher_logits, self.teacher_shifts = teacher_logits, teacher_shifts
        self.train_filter = train_filter  # e.g. one device for device-specific fine-tuning
        self.progress = progress
        self.skipped: dict[str, str] = {}
        self._ready = False

    def _features(self, df):
        fs = extract(self.ds, df["filename"].tolist(), self.fcfg, progress=self.progress)
        self.skipped.update(fs.skipped)
        rows = df.set_index("filename").loc[fs.filenames]
        return fs, rows

    def setup(self, stage=None):
        if self._ready:
            return
        train_df = self.ds.subset(self.subset)
        fs, rows = self._features(train_df)
        self.train_files = fs.filenames
        self.train_rows = rows
        keep = np.ones(len(rows), dtype=bool) if self.train_filter is None else self.train_filter(rows).to_numpy()
        self.train_index = np.flatnonzero(keep)
        y = rows["scene"].map(SCENES.index).to_numpy()
        d = rows["device"].map(DEVICES.index).to_numpy()
        teacher = self.teacher_logits[self.train_index] if self.teacher_logits is not None else None
        shifts = self.teacher_shifts[self.train_index] if self.teacher_shifts is not None else None
        common = dict(train=True, roll=self.roll, seed=self.seed, teacher=teacher, shifts=shifts)
        if self.mode == "cached":
            self.train_set = ClipSet(
                fs.x[self.train_index] if len(self.train_index) < len(fs.x) else fs.x,
                y[self.train_index],
                d[self.train_index],
                **common,
            )
        else:
            irs = load_irs(self.dir_folder, self.fcfg.sample_rate_hz) if self.dir_p > 0 else None
            files = [fs.filenames[i] for i in self.train_index]
            self.train_set = ClipSet(
                None,
                y[self.train_index],
                d[self.train_index],
                wave_source=(self.ds, files, self.fcfg),
                irs=irs,
                dir_p=self.dir_p,
                **common,
            )
        tfs, trows = self._features(self.ds.test())
        self.test_files, self.test_rows = tfs.filenames, trows
        ty = trows["scene"].map(SCENES.index).to_numpy()
        td = trows["device"].map(DEVICES.index).to_numpy()
        if self.mode == "cached":
            self.test_set = ClipSet(tfs.x, ty, td)
        else:
            self.test_set = ClipSet(None, ty, td, wave_source=(self.ds, tfs.filenames, self.fcfg))
        self._ready = True

    def with_teacher_logits(self, logits: np.ndarray | None, shifts_ms: np.ndarray | None) -> "ASCDataModule":
        """This data with the teachers' stored logits [N, K, T, C] (and their view shifts in ms) riding along."""
        self.teacher_logits = logits
        self.teacher_shifts = (
            None
            if shifts_ms is None
            else np.rint(shifts_ms / 1000 * self.fcfg.sample_rate_hz / self.fcfg.hop_length).astype(int)
        )
        self._ready = False
        self.setup()
        return self

    def for_device(self, device: str, batch_size: int | None = None, teachers: bool = True) -> "ASCDataModule":
        """A copy whose training set is one recording device's clips (same test set, same features)."""
        import copy

        sub = copy.copy(self)
        sub._ready = False
        sub.batch_size = batch_size or self.batch_size
        sub.train_filter = lambda rows: rows["device"] == device
        if not teachers:
            sub.teacher_logits = sub.teacher_shifts = None
        sub.setup()
        return sub

    @property
    def has_teachers(self) -> bool:
        return self.teacher_logits is not None

    def _loader_options(self) -> dict:
        """On a GPU: pinned host memory and worker processes (fetching, decoding and rolling clips is the CPU's
        share of the step; the log-mel itself runs on the GPU, in the LightningModule): on an H200 the cached loop
        ran at 27 % of the bare step with none. On a CPU: as configured (0 by default: the cores are busy with
        the network)."""
        cuda = torch.cuda.is_available()
        workers = self.num_workers
        if cuda and not workers:  # ASC_LOADER_WORKERS: when several runs share one machine's cores
            workers = int(os.environ.get("ASC_LOADER_WORKERS") or max(1, min(8, (os.cpu_count() or 2) - 1)))
        opts = {"num_workers": workers, "pin_memory": cuda}
        if workers:  # kept up across epochs and validations (EpochSampler), not forked again each time
            opts |= {"worker_init_fn": die_with_parent, "persistent_workers": True}
        return opts

    def train_dataloader(self):
        g, opts = torch.Generator().manual_seed(self.seed), self._loader_options()
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=EpochSampler(self.train_set, g, persistent=bool(opts["num_workers"])),
            generator=g,  # the loader draws its workers' base seed from it first, as with shuffle=True
            drop_last=False,
            **opts,
        )

    def val_dataloader(self):
        # its own generator: a DataLoader without one draws its base seed from the global torch RNG, which
        # dropout and PaSST's patchout also draw from — so how often a run validates changed how it trained
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.test_set, batch_size=max(self.batch_size, 128), generator=g, **self._loader_options())

    test_dataloader = val_dataloader

    def plain_train_loader(self, batch_size: int = 256):
        """Training clips without augmentation, in order (for teacher logits)."""
        x = self.train_set
        plain = ClipSet(x.x, x.labels, x.devices, wave_source=x.wave_source)
        return DataLoader(plain, batch_size=batch_size, shuffle=False, **self._loader_options())
