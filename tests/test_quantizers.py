"""The uniform quantizer: promised levels, gradients to latent weights, per-channel scales."""

import pytest
import torch

from dse.quantizers import LayerContext, get_quantizer
from dse.quantizers.uniform import UniformWeightQuantizer, levels_max


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("scale", ["mean", "max", "learned"])
def test_levels_per_channel(bits, scale):
    torch.manual_seed(0)
    w = torch.randn(6, 200)
    q = UniformWeightQuantizer(bits, 6, scale)
    out = q(w)
    codes, s = q.codes(w)
    for c in range(6):
        levels = torch.unique(out[c])
        limit = 2 if bits == 1 else 2 ** bits - 1
        assert len(levels) <= limit
        # every value is an integer multiple of the channel's scale, within the code range
        ratio = out[c] / s[c]
        assert torch.allclose(ratio, torch.round(ratio), atol=1e-4)
        assert ratio.abs().max() <= levels_max(bits) + 1e-4
    assert torch.equal(codes.float() * s, out.detach())
    if bits == 1:
        assert set(torch.unique(codes).tolist()) == {-1, 1}
    if bits == 2:
        assert set(torch.unique(codes).tolist()) <= {-1, 0, 1}


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("scale", ["mean", "learned"])
def test_gradient_reaches_latent_weights(bits, scale):
    torch.manual_seed(1)
    w = torch.randn(4, 16, requires_grad=True)
    q = UniformWeightQuantizer(bits, 4, scale)
    (q(w) * torch.randn(4, 16)).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0
    if scale == "learned":
        assert q.log_scale.grad is not None and q.log_scale.grad.abs().sum() > 0


def test_full_precision_is_identity():
    qt = get_quantizer("uniform")
    wq = qt.weight_quantizer(None, LayerContext(0, 2, 4, 4))
    w = torch.randn(4, 3)
    assert torch.equal(wq(w), w)


def test_unknown_quantizer_names_the_accepted():
    with pytest.raises(ValueError, match="accepted: uniform"):
        get_quantizer("nope")
