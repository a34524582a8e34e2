"""Knowledge-distillation losses.

paper (Han et al., eq. 1): L = λ·CE(y_s, y) + (1−λ)·(1/K)·Σ_k KL(softmax(y_s/τ) ‖ softmax(y_t,k/τ)),
  with KL(p ‖ q) = Σ p·(log p − log q) taken in the order the paper writes it (student first).
cpjku (Schmid et al., DCASE23): L = λ·CE + (1−λ)·τ²·KL(softmax(ȳ_t/τ) ‖ softmax(y_s/τ)), ȳ_t the mean
  of the teachers' logits (PyTorch KLDivLoss(log_target=True) on the student's log-probabilities).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student: torch.Tensor, labels: torch.Tensor, teachers: torch.Tensor | None, lam: float, tau: float,
            variant: str = "cpjku") -> tuple[torch.Tensor, dict[str, float]]:
    """``teachers``: [B, K, C] logits of K teachers (or None: plain cross-entropy)."""
    ce = F.cross_entropy(student, labels)
    if teachers is None or lam >= 1.0:
        return ce, {"ce": float(ce.detach())}
    log_ps = F.log_softmax(student / tau, dim=-1)
    if variant == "paper":
        ps = log_ps.exp()
        log_pt = F.log_softmax(teachers / tau, dim=-1)  # [B, K, C]
        kl = (ps.unsqueeze(1) * (log_ps.unsqueeze(1) - log_pt)).sum(-1)  # [B, K]
        kd = kl.mean(dim=1).mean()
    elif variant == "cpjku":
        log_pt = F.log_softmax(teachers.mean(dim=1) / tau, dim=-1)
        kd = F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True) * tau**2
    else:
        raise ValueError(f"KD variant must be 'paper' or 'cpjku', got {variant!r}")
    loss = lam * ce + (1 - lam) * kd
    return loss, {"ce": float(ce.detach()), "kd": float(kd.detach())}
