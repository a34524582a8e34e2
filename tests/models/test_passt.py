"""PaSST teachers are the published model: the author's package, its state-dict layout, strict checkpoints."""

import contextlib
import io

import pytest
import torch

from asc_core.models import create_model
from asc_core.models.passt import FRONTEND, CheckpointError, load_passt_checkpoint

hp = pytest.importorskip("hear21passt.models.passt", reason="hear21passt (requirements.txt) is not installed")
pytestmark = pytest.mark.slow  # PaSST-S forward passes on a CPU


def _official(n_classes: int):
    """PaSST-S built by the author's own package with random weights (nothing is downloaded)."""
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        return hp.get_model(arch="passt_s_swa_p16_128_ap476", pretrained=False, n_classes=n_classes,
                            s_patchout_t=0, s_patchout_f=6).eval()  # fmt: skip


def _their_logits(model, wave):
    """The package's own front end (with the DCASE teachers' fmin/fmax) and its own forward."""
    from hear21passt.models.preprocess import AugmentMelSTFT

    with contextlib.redirect_stdout(io.StringIO()):
        mel = AugmentMelSTFT(**FRONTEND).eval()
    with torch.no_grad():
        return model(mel(wave).unsqueeze(1))[0]


@pytest.fixture(scope="module")
def wave():
    g = torch.Generator().manual_seed(1)
    return 0.1 * torch.randn(2, 32000, generator=g)


def test_official_layout_loads_strictly_and_gives_the_same_logits(tmp_path, wave):
    ref = _official(10)
    sd = ref.state_dict()
    assert len(sd) == 159
    assert tuple(sd["freq_new_pos_embed"].shape) == (1, 768, 12, 1)
    assert tuple(sd["time_new_pos_embed"].shape) == (1, 768, 1, 99)
    assert {"patch_embed.proj.weight", "new_pos_embed", "cls_token", "dist_token", "blocks.11.attn.qkv.weight",
            "head.0.weight", "head.1.weight", "head_dist.weight"} <= set(sd)  # fmt: skip
    path = tmp_path / "passt_dcase.pt"
    torch.save(sd, path)
    ours = create_model("passt_s", checkpoint=str(path)).eval()
    assert set(ours.state_dict()) == set(sd)
    with torch.no_grad():
        mine = ours(wave)  # the waveform through our model's own front end
    assert mine.shape == (2, 10)
    assert (mine - _their_logits(ref, wave)).abs().max() <= 1e-4


def test_audioset_release_heads_replaced_wrapped_and_prefixed(tmp_path, wave):
    ref = _official(527)
    sd = ref.state_dict()
    assert tuple(sd["head.1.weight"].shape) == (527, 768)
    for i, state in enumerate(({"model": sd}, {f"net.{k}": v for k, v in sd.items()},
                               {"state_dict": {f"model.{k}": v for k, v in sd.items()}})):  # fmt: skip
        path = tmp_path / f"as{i}.pt"
        torch.save(state, path)
        ours = create_model("passt_s").eval()
        fresh = ours.state_dict()["head.1.weight"].clone()
        info = load_passt_checkpoint(ours, path)
        assert info == {"tensors": 159, "heads_replaced": True}
        now = ours.state_dict()
        assert torch.equal(now["blocks.5.attn.qkv.weight"], sd["blocks.5.attn.qkv.weight"])
        assert torch.equal(now["time_new_pos_embed"], sd["time_new_pos_embed"])
        assert torch.equal(now["head.1.weight"], fresh) and now["head_dist.weight"].shape == (10, 768)
    with torch.no_grad():  # the body is the release's: its features equal the package's
        assert ours(wave).shape == (2, 10)


def test_a_checkpoint_that_does_not_fit_fails_naming_it(tmp_path):
    sd = create_model("passt_tiny").state_dict()
    ours = create_model("passt_tiny")
    bad = dict(sd)
    bad["time_new_pos_embed"] = torch.zeros(1, 64, 1, 50)
    with pytest.raises(
        CheckpointError, match=r"time_new_pos_embed: \(1, 64, 1, 50\) in the checkpoint, \(1, 64, 1, 99\)"
    ):
        load_passt_checkpoint(ours, bad)
    missing = {k: v for k, v in sd.items() if k != "blocks.1.norm1.weight"} | {"extra.weight": torch.zeros(1)}
    with pytest.raises(
        CheckpointError, match=r"1 missing \(first: blocks.1.norm1.weight\); 1 unexpected \(first: extra"
    ):
        load_passt_checkpoint(ours, missing)
    with pytest.raises(CheckpointError, match="not a PaSST state dict"):
        load_passt_checkpoint(ours, {"epoch": 3})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_model("passt_tiny", checkpoint=str(tmp_path / "nope.pt"))
