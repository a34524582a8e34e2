"""PaSST — Patchout faSt Spectrogram Transformer (Koutini et al., 2021), trainable from scratch.

16×16 patches with stride 10 on a 128-mel input (1 s at hop 320 → 12 × 9 patches), separate learned
frequency and time positional embeddings added to the patch grid, structured patchout in training
(``patchout_f`` whole frequency rows and ``patchout_t`` whole time columns dropped at random), then CLS
and distillation tokens with their own positional embedding, pre-norm transformer blocks, and a head
on the mean of the two tokens (as PaSST's ``forward`` averages ``head`` and ``head_dist``).

Presets: ``passt_tiny`` (depth 2, width 64, 4 heads: trains on a CPU), ``passt_s`` (depth 12, width 768,
12 heads, the AudioSet PaSST-S shape). ``checkpoint=PATH`` loads a local state dict (never a download):
keys that do not fit (e.g. a 527-class AudioSet head) are skipped and reported.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn as nn

from asc_core.models._registry import register_model

log = logging.getLogger(__name__)
__all__ = ["PaSST"]


class PaSST(nn.Module):
    def __init__(
        self,
        n_classes: int = 10,
        n_mels: int = 128,
        max_frames: int = 1001,
        embed_dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        patch: int = 16,
        stride: int = 10,
        patchout_f: int = 4,
        patchout_t: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.n_mels = n_mels
        self.patchout_f, self.patchout_t = patchout_f, patchout_t
        self.patch_embed = nn.Conv2d(1, embed_dim, patch, stride)
        gf = (n_mels - patch) // stride + 1
        gt = (max_frames - patch) // stride + 1
        self.freq_pos = nn.Parameter(torch.zeros(1, embed_dim, gf, 1))
        self.time_pos = nn.Parameter(torch.zeros(1, embed_dim, 1, gt))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.token_pos = nn.Parameter(torch.zeros(1, 2, embed_dim))
        layer = nn.TransformerEncoderLayer(
            embed_dim, heads, 4 * embed_dim, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, n_classes))
        for p in (self.freq_pos, self.time_pos, self.cls_token, self.dist_token, self.token_pos):
            nn.init.trunc_normal_(p, std=0.02)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.n_mels:
            raise ValueError(f"PaSST expects {self.n_mels} mel bins, got {x.shape[2]} (use the 'passt' feature preset)")
        x = self.patch_embed(x)  # [B, E, F', T']
        b, e, f, t = x.shape
        if t > self.time_pos.shape[-1]:
            raise ValueError(
                f"input has {t} time patches, more than the {self.time_pos.shape[-1]} this PaSST was built for"
            )
        x = x + self.freq_pos + self.time_pos[..., :t]
        if self.training and self.patchout_f and f > self.patchout_f:
            keep = torch.randperm(f, device=x.device)[: f - self.patchout_f].sort().values
            x = x[:, :, keep]
        if self.training and self.patchout_t and x.shape[3] > self.patchout_t:
            keep = torch.randperm(x.shape[3], device=x.device)[: x.shape[3] - self.patchout_t].sort().values
            x = x[:, :, :, keep]
        x = x.flatten(2).transpose(1, 2)  # [B, N, E]
        special = torch.cat((self.cls_token, self.dist_token), 1).expand(b, -1, -1) + self.token_pos
        return self.norm(self.blocks(torch.cat((special, x), 1)))

    def embed(self, x):
        z = self.tokens(x)
        return (z[:, 0] + z[:, 1]) / 2

    def forward(self, x):
        return self.head(self.embed(x))


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load a local state dict non-strictly; returns {'loaded': n, 'skipped': [...]}."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist (PaSST weights are never downloaded)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    fit = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(set(state) - set(fit))
    model.load_state_dict(fit, strict=False)
    if skipped:
        log.warning("checkpoint %s: %d tensors did not fit and were skipped (e.g. %s)", path, len(skipped), skipped[0])
    return {"loaded": len(fit), "skipped": skipped}


def _create(n_classes, checkpoint, **kw) -> PaSST:
    m = PaSST(n_classes=n_classes, **kw)
    if checkpoint:
        load_checkpoint(m, checkpoint)
    return m


@register_model(family="teacher", features="passt")
def passt_tiny(n_classes: int = 10, checkpoint: str | None = None, width: int = 64) -> PaSST:
    """A small PaSST that trains on a CPU: depth 2, width 64, 4 heads."""
    return _create(n_classes, checkpoint, embed_dim=width, depth=2, heads=4)


@register_model(family="teacher", features="passt")
def passt_s(n_classes: int = 10, checkpoint: str | None = None, width: int = 768) -> PaSST:
    """PaSST-S: depth 12, width 768, 12 heads (from scratch, or from a local checkpoint file)."""
    return _create(n_classes, checkpoint, embed_dim=width, depth=12, heads=12)


@register_model(family="teacher", features="passt")
def passt(
    n_classes: int = 10, checkpoint: str | None = None, width: int = 192, depth: int = 4, heads: int = 4
) -> PaSST:
    """A PaSST of any size (defaults: depth 4, width 192, 4 heads)."""
    return _create(n_classes, checkpoint, embed_dim=width, depth=depth, heads=heads)
