"""Pruning rounds inside an experiment: prune (scheduled, NNI) → KD fine-tune, once per target.

Single-step is one round straight to the target; progressive is a chain of rounds (e.g. 96 → 64 → 32).
A target is a width (the complexity of the width-W network of the same family, deployed) or a budget
(MACs and parameter bytes at a precision). The sparsity that meets it is solved on the deployed
(folded) network; every round is recorded with its figures, accuracies and channels per layer.
"""

from __future__ import annotations

import copy
import time

import torch

from asc_core.complexity import BudgetError, check_budget, deployed_complexity, measure
from asc_core.compress.prune import channels_per_layer, dependency_config, prune_scheduled, solve_budget
from asc_core.models.rep_mobile import reparameterize_model


def targets(cfg) -> list[dict]:
    """The rounds' targets as budgets: [{'label', 'macs', 'bytes', 'precision'}]."""
    p = cfg.pruning
    out = []
    for w in p.chain:
        c = deployed_complexity(cfg.student.name, w, cfg.student.kwargs, cfg.student_features)
        out.append({"label": f"width {w}", "width": w, "macs": c.macs, "bytes": c.bytes("fp16"), "precision": "fp16"})
    if p.budget:
        b = p.budget
        out.append(
            {
                "label": f"budget {b.macs / 1e6:.1f} M MACs, {b.bytes:,} B at {b.precision}",
                "width": None,
                "macs": b.macs,
                "bytes": b.bytes,
                "precision": b.precision,
            }
        )
    return out


def check_reachable(cfg) -> None:
    """Fail before any training if the final budget cannot be met by pruning this student."""
    if not cfg.pruning.budget:
        return
    b = cfg.pruning.budget
    model = cfg.student.build()
    model.feature_preset = cfg.student_features
    solve_budget(model, b.macs, b.bytes, b.precision, cfg.pruning.pruner, deploy=reparameterize_model)


def _cancel_point(reporter) -> None:
    from asc_core.constants import Cancelled

    if reporter.cancel_requested():
        raise Cancelled()


def run_rounds(
    model, cfg, dm, evaluate, finetune, train_step, reporter, device: str = "cpu"
) -> tuple[torch.nn.Module, list[dict]]:
    """``evaluate(model) -> macro accuracy``; ``finetune(model, round_index) -> None`` (KD, in place);
    ``train_step(batch, model) -> loss`` (the student's training loss, for the schedule's steps; batches of
    ``dm.train_dataloader()``, waveforms in on-the-fly mode), computed on ``device`` (the run's)."""
    p = cfg.pruning
    loader = dm.train_dataloader()
    # NNI updates the sparsity every `interval` steps, `total_times` times: the schedule spans schedule_epochs
    interval = p.interval_steps or max(1, round(p.schedule_epochs * len(loader) / p.total_times))
    shape = cfg.student_input_shape
    model.feature_preset = cfg.student_features

    rounds = []
    tlist = targets(cfg)
    for k, t in enumerate(tlist):
        reporter.set_stage(f"pruning round {k + 1}/{len(tlist)}: {t['label']}")
        clock = [time.perf_counter()]  # the round's stages: prepare, schedule (+ speed-up), fine-tune
        before = measure(reparameterize_model(model), shape)
        acc_before = evaluate(model)
        width_now = next((r["target_width"] for r in reversed(rounds) if r["target_width"]), cfg.student.width)
        guess = 1 - t["width"] / width_now if t["width"] and width_now else None
        head = f"pruning round {k + 1}/{len(tlist)}"
        reporter.set_stage(f"{head}: searching the sparsity for {t['label']}")
        deps = dependency_config(copy.deepcopy(model).cpu().eval(), 0.5)  # traced once per round
        sparsity, _ = solve_budget(
            model, t["macs"], t["bytes"], t["precision"], p.pruner, deploy=reparameterize_model, guess=guess, deps=deps
        )
        _cancel_point(reporter)
        reporter.set_stage(f"{head}: {p.schedule} schedule to {100 * sparsity:.0f} % sparsity, then speed-up")
        clock.append(time.perf_counter())

        def on_step(step, total):  # progress inside the schedule, and a cancel point every few steps
            reporter.update(step / total, step=step)
            if step % 5 == 0:
                _cancel_point(reporter)

        pruned = prune_scheduled(
            model, sparsity, train_step, loader, p.pruner, p.schedule, p.total_times, interval, p.finetune_lr, deps,
            on_step=on_step, device=device,
        )  # fmt: skip
        pruned.model_name, pruned.feature_preset = cfg.student.name, cfg.student_features
        acc_pruned = evaluate(pruned)
        reporter.set_stage(f"pruning round {k + 1}/{len(tlist)}: fine-tuning")
        clock.append(time.perf_counter())
        finetune(pruned, k)
        acc_ft = evaluate(pruned)
        after = measure(reparameterize_model(pruned), shape)
        try:
            check_budget(after, t["macs"], t["bytes"], t["precision"])
            met = True
        except BudgetError:
            met = False
        clock.append(time.perf_counter())
        rounds.append(
            {
                "round": k + 1,
                "target": t["label"],
                "target_width": t["width"],
                "sparsity": round(sparsity, 4),
                "params_before": before.params,
                "macs_before": before.macs,
                "params": after.params,
                "macs": after.macs,
                "bytes": after.bytes(t["precision"]),
                "precision": t["precision"],
                "target_macs": t["macs"],
                "target_bytes": t["bytes"],
                "meets_target": met,
                "schedule": {
                    "pruner": p.pruner,
                    "schedule": p.schedule,
                    "updates": p.total_times,
                    "interval_steps": interval,
                    "epochs": round(interval * p.total_times / len(loader), 2),
                },
                "accuracy_before": acc_before,
                "accuracy_after_pruning": acc_pruned,
                "accuracy_after_finetune": acc_ft,
                "channels": channels_per_layer(pruned),
                # what the round's stages took (the estimates' check, grid.stage_plan): prepare = the accuracy
                # before, NNI's dependency trace and the sparsity search; schedule = the masked training, the
                # speed-up and the accuracy after pruning; fine-tune = its epochs and the accuracy after
                "seconds": dict(
                    zip(("prepare", "schedule", "finetune"), (round(b - a, 1) for a, b in zip(clock, clock[1:])))
                ),
            }
        )
        reporter.metrics(
            k + 1,
            0,
            {
                "round_params": after.params,
                "round_macs": after.macs,
                "round_acc_pruned": acc_pruned,
                "round_acc_finetuned": acc_ft,
            },
        )
        if not met:
            raise BudgetError(
                f"round {k + 1}: pruned network ({after.macs:,} MACs, {after.bytes(t['precision']):,} B) "
                f"misses its target {t['label']}"
            )
        model = pruned
    return model, rounds
