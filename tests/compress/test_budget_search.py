"""The budget search counts candidates without NNI's speed-up; the counts must be NNI's own, exactly."""

import copy

import pytest
import torch

from asc_core.complexity import measure
from asc_core.compress.prune import (
    channel_sources,
    dependency_config,
    masks_at,
    prune_once,
    pruned_structure,
    speedup,
    speedup_shape,
)
from asc_core.models import create_model
from asc_core.models.rep_mobile import reparameterize_model


@pytest.mark.parametrize(
    ("name", "kw"), [("rep_mobile", {"width": 48}), ("dcase24_baseline", {}), ("sscp_mobile", {"width": 48})]
)
def test_counted_structure_equals_nni_speedup(name, kw):
    torch.manual_seed(0)
    model = create_model(name, **kw)
    model.model_name = name
    deps = dependency_config(copy.deepcopy(model).eval(), 0.5)
    sources = channel_sources(model)
    assert sources is not None
    for s in (0.25, 0.6):
        counted = pruned_structure(model, masks_at(model, s, deps), sources)
        real = prune_once(model, s, "l1", deps)
        assert {k: v.shape for k, v in counted.state_dict().items()} == {
            k: v.shape for k, v in real.state_dict().items()
        }
        a, b = measure(reparameterize_model(counted)), measure(reparameterize_model(real))
        assert (a.params, a.macs) == (b.params, b.macs)


def test_graphs_with_concatenation_fall_back_to_the_real_speedup():
    assert channel_sources(create_model("dssdn_s")) is None  # cat/split: the count would not know the channels


def test_small_speedup_input_gives_the_same_pruned_network(monkeypatch):
    torch.manual_seed(0)
    model = create_model("rep_mobile", width=40).eval()
    model.model_name = "rep_mobile"
    deps = dependency_config(copy.deepcopy(model), 0.5)
    masks = masks_at(model, 0.4, deps)
    assert speedup_shape(model) == (2, 1, 64, 32)
    small = speedup(copy.deepcopy(model), masks)
    import asc_core.compress.prune as prune

    monkeypatch.setattr(prune, "speedup_shape", lambda m: prune._shape(m))  # the real input: 2 × 1 × 256 × 65
    full = speedup(copy.deepcopy(model), masks)
    a, b = small.state_dict(), full.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_the_pruning_schedule_reports_steps_and_can_be_cancelled_between_them():
    from asc_core.compress.prune import prune_scheduled
    from asc_core.train.loop import Cancelled

    torch.manual_seed(0)
    model = create_model("dcase24_baseline", width=16)
    model.model_name = "dcase24_baseline"
    batches = [(torch.randn(4, 1, 256, 65), torch.randint(0, 10, (4,))) for _ in range(3)]

    def step(batch, m):
        return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])

    seen = []

    def on_step(s, total):
        seen.append((s, total))
        if s == 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        prune_scheduled(model, 0.5, step, batches, total_times=4, interval_steps=2, on_step=on_step)
    assert seen == [(1, 8), (2, 8), (3, 8)]  # 4 updates × 2 steps; stopped at the third step, not after all


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_pruning_schedule_trains_where_it_is_told_and_hands_back_a_smaller_cpu_model(device):
    """On a GPU machine the schedule's steps run on the GPU (batches moved there); tracing and NNI's speed-up stay
    on the CPU, so the pruned network always comes back there."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: the GPU path of the schedule runs only where one is present")
    from asc_core.compress.prune import channels_per_layer, prune_scheduled

    torch.manual_seed(0)
    model = create_model("dcase24_baseline", width=16)
    model.model_name = "dcase24_baseline"
    batches = [(torch.randn(4, 1, 256, 65), torch.randint(0, 10, (4,))) for _ in range(2)]
    where = set()

    def step(batch, m):
        where.add((batch[0].device.type, next(m.parameters()).device.type))
        return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])

    pruned = prune_scheduled(model, 0.5, step, batches, total_times=2, interval_steps=2, device=device)
    assert where == {(device, device)}
    assert {p.device.type for p in pruned.parameters()} == {"cpu"}
    before, after = channels_per_layer(model), channels_per_layer(pruned)
    assert sum(after.values()) < sum(before.values())
    assert pruned.eval()(torch.randn(1, 1, 256, 65)).shape == (1, 10)
