"""PaSST — Patchout faSt Spectrogram Transformer (Koutini et al., 2021): the published model, from its author's
package ``hear21passt`` (pinned with timm and torchvision in requirements.txt).

Why the package and not our own module: a user with the real weights must get the real teacher, so the state-dict
layout, the positional embeddings (sliced to the input's time patches), structured patchout and the output must be
the author's own code, not a re-implementation that can drift. We add only what the product needs around it:

- **The front end inside the model.** A PaSST teacher takes the waveform ([B, samples], [B, 1, samples] or
  [B, 1, 1, samples], 32 kHz) and computes its own features with the package's ``AugmentMelSTFT``: pre-emphasis,
  Hann window 800 (``periodic=False``), hop 320, n_fft 1024, Kaldi mel banks, 128 mels, log(x + 1e-5),
  (x + 4.5) / 5; fmin 0 and fmax 15.5 kHz as CP-JKU's DCASE23 teachers used them (``fmax_aug_range`` 1000), their
  random fmin/fmax jitter and its masking (freqm 48) only in training. Its buffers are not persistent, so the state
  dict is exactly the official one. The student keeps its own front end; the teacher zoo stores logits for the
  same clips and the same time shifts (in ms) as the student sees.
- **Logits only.** ``forward`` returns the package's logits — its ``forward`` returns (logits, features) with
  features = (cls + dist) / 2 and logits = ``head(features)`` — and drops the features.
- **Strict checkpoints** (``load_passt_checkpoint``): the official AudioSet release (527-class heads replaced by
  fresh 10-class heads), a DCASE-fine-tuned 10-class PaSST, a state dict wrapped in ``model``/``state_dict`` or
  prefixed by ``net.``/``model.``. Anything else fails naming the first missing key, the first unexpected key and
  the first shape that differs — never a silent partial load.

``passt_s``: PaSST-S (patch 16, stride 10, 768 wide, depth 12, 12 heads, built for 128 × 998 like the AudioSet
release: ``time_new_pos_embed`` (1, 768, 1, 99), sliced to 9 time patches for 1-s clips). ``passt_tiny`` and
``passt``: the same class, smaller (for a CPU demo, from scratch).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from asc_core.constants import N_CLASSES, SAMPLE_RATE
from asc_core.models._registry import register_model

log = logging.getLogger(__name__)
__all__ = ["PaSSTTeacher", "passt_frontend", "load_passt_checkpoint", "CheckpointError", "AUDIOSET_CLASSES"]

AUDIOSET_CLASSES = 527
# CP-JKU's DCASE23 PaSST teachers: fmin 0 (jitter range 1, i.e. none) and fmax = 16 kHz − 1000/2 (jitter ±500 Hz)
FRONTEND = dict(n_mels=128, sr=SAMPLE_RATE, win_length=800, hopsize=320, n_fft=1024, freqm=48, timem=0, htk=False,
                fmin=0.0, fmax=None, norm=1, fmin_aug_range=1, fmax_aug_range=1000)  # fmt: skip
OFFICIAL_INPUT = (128, 998)  # the AudioSet release's (mels, frames): it fixes the positional embeddings' shapes


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message names the keys and shapes."""


def passt_frontend(**overrides) -> nn.Module:
    """The PaSST front end (``hear21passt``'s AugmentMelSTFT) with the DCASE teachers' settings."""
    from hear21passt.models.preprocess import AugmentMelSTFT

    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line when fmax is derived
        return AugmentMelSTFT(**(FRONTEND | overrides))


@functools.cache
def _passt_class():
    import hear21passt.models.passt as hp

    hp.first_RUN = False  # the package prints tensor shapes on its first forward otherwise

    class PaSSTTeacher(hp.PaSST):
        """hear21passt's PaSST with its front end inside, returning logits only."""

        keeps_layout = True  # a transformer on a waveform: channels-last memory is no faster path here

        def __init__(self, frontend: nn.Module, **kwargs):
            super().__init__(**kwargs)
            self.mel = frontend  # no persistent state: the state dict stays the official one

        def forward(self, x):
            if x.dim() == 4:  # [B, 1, 1, samples] (the product's cached waveform layout)
                x = x.flatten(1)
            elif x.dim() == 3:
                x = x.squeeze(1)
            with warnings.catch_warnings():  # the package's deprecated stft/autocast calls and its 998-frame notice
                warnings.simplefilter("ignore")
                with torch.autocast(x.device.type, enabled=False):
                    spec = self.mel(x.float())  # [B, 128, frames]
                return super().forward(spec.unsqueeze(1).to(x.dtype))[0]

    return PaSSTTeacher


def PaSSTTeacher(*args, **kwargs):  # noqa: N802  (a class built on first use: hear21passt loads lazily)
    return _passt_class()(*args, **kwargs)


def _build(n_classes: int, embed_dim: int, depth: int, heads: int, s_patchout_t: int, s_patchout_f: int,
           checkpoint: str | None) -> nn.Module:  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        model = PaSSTTeacher(passt_frontend(), img_size=OFFICIAL_INPUT, patch_size=16, stride=(10, 10), in_chans=1,
                             num_classes=n_classes, embed_dim=embed_dim, depth=depth, num_heads=heads, distilled=True,
                             s_patchout_t=s_patchout_t, s_patchout_f=s_patchout_f)  # fmt: skip
    if checkpoint == "audioset":  # the release `teachers download` fetched, checked against its recorded SHA-256
        from asc_core.weights import AUDIOSET, verified_path

        checkpoint = str(verified_path(AUDIOSET))
    if checkpoint:
        load_passt_checkpoint(model, checkpoint)
    return model


def _unwrap(state) -> dict:
    """A state dict from the layouts PaSST checkpoints come in: {'model': …}, {'state_dict': …}, 'net.'/'model.'."""
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("not a PaSST state dict (expected a mapping of tensor names to tensors)")
    for prefix in ("net.", "model."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_passt_checkpoint(model: nn.Module, source, name: str = "") -> dict:
    """Load a PaSST checkpoint (a path or a loaded state) into ``model`` strictly; returns what was done.

    A 527-class AudioSet checkpoint into a model with other classes: its heads (``head.1.*``, ``head_dist.*``) are
    replaced by the model's fresh ones. Any other difference raises CheckpointError naming it."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        if not path.exists():
            raise FileNotFoundError(f"PaSST checkpoint {path} does not exist")
        source = torch.load(path, map_location="cpu", weights_only=True)
    state = _unwrap(source)
    own = model.state_dict()
    replaced = []
    head = state.get("head.1.weight")
    if head is not None and head.shape[0] == AUDIOSET_CLASSES and own["head.1.weight"].shape[0] != AUDIOSET_CLASSES:
        replaced = [k for k in state if k.startswith(("head.1.", "head_dist."))]
        state = {k: v for k, v in state.items() if k not in replaced} | {k: own[k] for k in replaced}
        log.info("%s: AudioSet heads (527 classes) replaced by fresh %d-class heads", name or "checkpoint",
                 own["head.1.weight"].shape[0])  # fmt: skip
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} of another shape (first: {k}: {tuple(state[k].shape)} in the checkpoint, "
                         f"{tuple(own[k].shape)} in the model)")  # fmt: skip
        raise CheckpointError(f"{name or 'checkpoint'} does not fit this PaSST: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return {"tensors": len(state), "heads_replaced": bool(replaced)}


@register_model
def passt_s(n_classes: int = N_CLASSES, checkpoint: str | None = None, s_patchout_t: int = 0,
            s_patchout_f: int = 6) -> nn.Module:  # fmt: skip
    """PaSST-S, the published model (hear21passt; 159 tensors): from scratch, or the AudioSet weights."""
    return _build(n_classes, 768, 12, 12, s_patchout_t, s_patchout_f, checkpoint)


@register_model
def passt_tiny(n_classes: int = N_CLASSES, checkpoint: str | None = None, width: int = 64) -> nn.Module:
    """A small PaSST that trains on a CPU (depth 2, width 64, 4 heads; the PaSST-S code and front end)."""
    return _build(n_classes, width, 2, 4, 0, 2, checkpoint)


@register_model
def passt(n_classes: int = N_CLASSES, checkpoint: str | None = None, width: int = 192, depth: int = 4,
          heads: int = 4) -> nn.Module:  # fmt: skip
    """A PaSST of any size (defaults: depth 4, width 192, 4 heads), from scratch."""
    return _build(n_classes, width, depth, heads, 0, 2, checkpoint)
