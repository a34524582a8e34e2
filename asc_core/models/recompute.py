"""Recomputation in the backward pass (activation checkpointing) that trains exactly like keeping activations.

``torch.utils.checkpoint`` runs a module's forward twice: once without keeping its inner activations, again in
the backward pass to get them back. A BatchNorm in training mode updates its running averages (and its batch
count) on each forward, so plain checkpointing would update them twice. Here the recomputation runs inside a
context that puts back every buffer of the module as the first forward left it: the outputs are the same
(training-mode BatchNorm normalises with the batch's statistics, not the running ones), so loss, gradients,
parameters and buffers are bit for bit those of a module that kept its activations (tests/models). It works on
any module — plain layers or NNI's masked wrappers during a pruning schedule.

Used by CP-Mobile's blocks (so by Rep-Mobile and the DCASE24 baseline): a block then keeps only its input for the
backward pass. Measured on 2 cores, a bare Rep-Mobile training step at batch 64 with low-memory mode's allocator:
width 64 1.9 GB → 1.1 GB, width 96 2.5 → 1.3 GB at the same speed (fewer pages faulted in pays for the second
forward). Recomputing Rep-Mobile's branches inside a recomputed block as well saved nothing more and cost 15 %.

Modes (a module's ``recompute`` attribute): "never" (the default), "cpu" (training on a CPU only: on a GPU memory
is rarely the limit and time is) or "always". ``asc_core.memory.fit_memory`` sets them in low-memory mode.
"""

from __future__ import annotations

import contextlib

import torch

MODES = ("never", "cpu", "always")


@contextlib.contextmanager
def _buffers_kept(module: torch.nn.Module):
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)


def can_recompute(module: torch.nn.Module, x: torch.Tensor) -> bool:
    """Recompute here: asked for, training with gradients, not under a tracer (torch.fx, jit), device allowed."""
    mode = getattr(module, "recompute", "never")
    if mode == "never" or not (module.training and torch.is_grad_enabled()):
        return False
    if torch.fx._symbolic_trace.is_fx_symbolic_tracing() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    return not (mode == "cpu" and x.is_cuda)


def recomputed(module: torch.nn.Module, fn, x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` keeping only ``x`` for the backward pass; ``module``'s buffers updated once (see the module's text)."""
    from torch.utils.checkpoint import checkpoint

    def contexts():
        return contextlib.nullcontext(), _buffers_kept(module)

    return checkpoint(fn, x, use_reentrant=False, preserve_rng_state=False, context_fn=contexts)
