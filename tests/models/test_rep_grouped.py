"""Rep-Mobile's branches as one grouped convolution: the same function, gradients and statistics."""

import copy

import pytest
import torch

from asc_core.models import create_model
from asc_core.models.rep_mobile import RepDepthwise, reparameterize_model


def _close(actual, expected, rel=1e-5, msg=""):
    """Equal up to float32 summation order: max |difference| ≤ rel × max |expected|."""
    scale = float(expected.abs().max()) or 1.0
    assert float((actual - expected).abs().max()) <= rel * scale, msg


def _set_grouped(model, mode):
    for m in model.modules():
        if isinstance(m, RepDepthwise):
            m.grouped = mode
    return model


@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (2, 1)])
def test_grouped_stage_equals_branches(stride):
    torch.manual_seed(0)
    a = RepDepthwise(24, stride).train()
    b = copy.deepcopy(a)
    a.grouped, b.grouped = "never", "always"
    x = torch.randn(4, 24, 18, 11)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = a(xa), b(xb)
    _close(yb, ya)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    _close(xb.grad, xa.grad)
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        _close(pb.grad, pa.grad, rel=1e-4, msg=n)  # sums over batch × positions: the order depends on threads
    for (n, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers()):
        torch.testing.assert_close(bb, ba, atol=1e-6, rtol=1e-6, msg=n)  # running statistics, batches tracked
    a.eval(), b.eval()
    _close(b(x), a(x))


def test_grouped_network_has_the_same_gradients_and_still_folds():
    torch.manual_seed(0)
    net = create_model("rep_mobile", width=24).train()
    ref = _set_grouped(copy.deepcopy(net), "never")
    _set_grouped(net, "always")
    x, y = torch.randn(8, 1, 256, 65), torch.randint(0, 10, (8,))
    losses = []
    for m in (ref, net):
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        losses.append(float(loss))
    assert abs(losses[0] - losses[1]) <= 1e-5 * abs(losses[0])
    for (n, pa), (_, pb) in zip(ref.named_parameters(), net.named_parameters()):
        _close(pb.grad, pa.grad, rel=1e-4, msg=n)  # through 12 layers of float32 summation
    for (n, ba), (_, bb) in zip(ref.named_buffers(), net.named_buffers()):
        _close(bb.float(), ba.float(), msg=n)
    net.eval()
    _close(reparameterize_model(net)(x), net(x), rel=1e-5)  # folding unchanged


def test_grouped_form_is_off_by_default_and_not_used_under_tracing():
    stage = RepDepthwise(8)
    assert stage.grouped == "never" and not stage._can_group(torch.zeros(1, 8, 4, 4))
    stage.grouped = "cuda"
    assert not stage._can_group(torch.zeros(1, 8, 4, 4))  # a CPU tensor
    stage.grouped = "always"
    traced = torch.fx.symbolic_trace(stage)  # NNI traces the branch-by-branch form (its pruning needs the layers)
    assert any(n.op == "call_module" and n.target.startswith("branches.") for n in traced.graph.nodes)
