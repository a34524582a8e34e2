"""Knowledge-distillation losses, as the papers and their reference code compute them.

``paper`` (Han et al., Rep-Mobile, eq. 1): L = λ·CE(y_s, y) + (1−λ)·(1/K)·Σ_k KLD(δ(y_s), δ(y_t,k)), δ = softmax(·/τ).
  The paper writes KLD(δ(y_s), δ(y_t)) in PyTorch's argument order — ``kl_div(input=log δ(y_s), target=δ(y_t))`` —
  which computes KL(teacher ‖ student) = Σ p_t·(log p_t − log p_s), the distillation loss everyone uses. So: one
  KL(teacher_k ‖ student) per teacher, summed over classes, averaged over the K teachers and the batch
  ("batchmean"), no τ² factor (eq. 1 has none).
``paper_reverse``: KL(student ‖ teacher) per teacher, i.e. eq. 1 read left to right as mathematics. Mode-seeking
  and large at small τ; kept only so the Learn page can show the difference. No preset uses it.
``cpjku`` (Schmid et al., DCASE23 code, ``run_training.py``): L = λ·CE + (1−λ)·τ²·mean_{batch, classes}
  KLDivLoss(reduction="none", log_target=True)(log δ(y_s), log δ(ȳ_t)), ȳ_t the mean of the teachers' logits.
  The mean runs over batch *and* classes (1/C of ``batchmean``): their λ = 0.02 and τ = 2 assume it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KD_VARIANTS = ("paper", "cpjku", "paper_reverse")


def kd_term(student: torch.Tensor, teachers: torch.Tensor, tau: float, variant: str = "cpjku") -> torch.Tensor:
    """The distillation term alone. ``student``: [B, C] logits; ``teachers``: [B, K, C] logits of K teachers."""
    log_ps = F.log_softmax(student / tau, dim=-1)
    if variant == "cpjku":
        log_pt = F.log_softmax(teachers.mean(dim=1) / tau, dim=-1)
        return F.kl_div(log_ps, log_pt, reduction="none", log_target=True).mean() * tau**2
    log_pt = F.log_softmax(teachers / tau, dim=-1)  # [B, K, C]
    log_ps = log_ps.unsqueeze(1).expand_as(log_pt)
    if variant == "paper":
        kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1)  # KL(teacher_k ‖ student): [B, K]
    elif variant == "paper_reverse":
        kl = (log_ps.exp() * (log_ps - log_pt)).sum(-1)  # KL(student ‖ teacher_k)
    else:
        raise ValueError(f"KD variant must be one of {KD_VARIANTS}, got {variant!r}")
    return kl.mean()


def kd_loss(
    student: torch.Tensor,
    labels: torch.Tensor,
    teachers: torch.Tensor | None,
    lam: float,
    tau: float,
    variant: str = "cpjku",
) -> tuple[torch.Tensor, dict[str, float]]:
    """λ·CE + (1−λ)·KD; with no teachers (or λ = 1) plain cross-entropy. Returns the loss and its parts."""
    if variant not in KD_VARIANTS:
        raise ValueError(f"KD variant must be one of {KD_VARIANTS}, got {variant!r}")
    ce = F.cross_entropy(student, labels)
    if teachers is None or lam >= 1.0:
        return ce, {"ce": float(ce.detach())}
    kd = kd_term(student, teachers, tau, variant)
    loss = lam * ce + (1 - lam) * kd
    return loss, {"ce": float(ce.detach()), "kd": float(kd.detach())}
