"""Low-memory training: CP-Mobile blocks (Rep-Mobile's, the DCASE24 baseline's) recompute their activations in the
backward pass and train bit for bit like blocks that keep them — plain, or wrapped by NNI's masks during a pruning
schedule."""

import contextlib
import copy
import io

import pytest
import torch

from asc_core.memory import fit_memory
from asc_core.models import create_model
from asc_core.models.cp_mobile import Block
from asc_core.models.recompute import can_recompute


def _set_recompute(model, mode):
    for m in model.modules():
        if hasattr(m, "recompute"):
            m.recompute = mode
    return model


def _saved_bytes(model, x, y) -> tuple[int, torch.Tensor]:
    """Bytes autograd keeps for the backward pass of one loss (and the loss)."""
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    return total[0], loss


def _train_two_steps(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _assert_same_training(ref, net):
    for (n, pa), (_, pb) in zip(ref.named_parameters(), net.named_parameters()):
        assert torch.equal(pa.grad, pb.grad) and torch.equal(pa, pb), n
    for (n, ba), (_, bb) in zip(ref.named_buffers(), net.named_buffers()):
        assert torch.equal(ba, bb), n  # running statistics updated once per step, batches counted once


@pytest.mark.parametrize("name", ["rep_mobile", "cp_mobile", "dcase24_baseline"])
def test_recomputed_blocks_train_exactly_like_kept_ones(name):
    """Same loss, gradients, parameters and BatchNorm statistics with `torch.equal` over two Adam steps — and the
    backward pass keeps less than half the bytes."""
    torch.manual_seed(0)
    ref = create_model(name, width=24).train()
    net = _set_recompute(copy.deepcopy(ref), "always")
    x, y = torch.randn(4, 1, 256, 65), torch.randint(0, 10, (4,))
    kept, loss_ref = _saved_bytes(ref, x, y)
    recomputed, loss = _saved_bytes(net, x, y)
    assert torch.equal(loss, loss_ref)
    assert recomputed < 0.5 * kept, (recomputed, kept)
    _train_two_steps(ref, x, y)
    _train_two_steps(net, x, y)
    _assert_same_training(ref, net)
    assert torch.equal(net.eval()(x), ref.eval()(x))


def test_recomputation_is_exact_under_nni_masks():
    """A pruning schedule trains the student with NNI's masked wrappers in place: recomputing is exact there too."""
    from asc_core.compress.prune import _pruner, dependency_config, with_sparsity

    torch.manual_seed(0)
    ref = create_model("rep_mobile", width=24)
    ref.model_name = "rep_mobile"
    config = with_sparsity(dependency_config(copy.deepcopy(ref).eval(), 0.5), 0.5)
    net = _set_recompute(copy.deepcopy(ref), "always")
    x, y = torch.randn(4, 1, 256, 65), torch.randint(0, 10, (4,))
    for m in (ref, net):
        with contextlib.redirect_stdout(io.StringIO()):
            _pruner("l1", m, config).compress()
        assert "_nni_wrapper" in m.stages[0][0].exp_conv[0]._modules  # the masks are in the forward pass
        _train_two_steps(m.train(), x, y)
    _assert_same_training(ref, net)


def test_recompute_only_where_asked():
    block = create_model("rep_mobile", width=16).stages[0][0].train()
    x = torch.zeros(1, block.exp_conv[0].in_channels, 8, 8)
    assert block.recompute == "never" and not can_recompute(block, x)
    block.recompute = "cpu"
    assert can_recompute(block, x)
    with torch.no_grad():
        assert not can_recompute(block, x)  # inference keeps nothing anyway
    assert not can_recompute(block.eval(), x)
    block.recompute = "always"
    traced = torch.fx.symbolic_trace(block.train())  # NNI's speed-up traces the layers, not a checkpoint
    assert any(n.op == "call_module" and n.target.startswith("exp_conv") for n in traced.graph.nodes)


def test_low_memory_mode_turns_it_on(monkeypatch):
    model = create_model("rep_mobile", width=16)
    monkeypatch.delenv("ASC_LOW_MEMORY", raising=False)
    fit_memory(model)
    assert {m.recompute for m in model.modules() if isinstance(m, Block)} == {"never"}
    monkeypatch.setenv("ASC_LOW_MEMORY", "1")
    fit_memory(model)
    assert {m.recompute for m in model.modules() if isinstance(m, Block)} == {"cpu"}
