"""Fixed-point membranes: values on the b-bit grid, saturation at the register's range."""

import torch
from spikingjelly.activation_based import functional, neuron

from dse.training.neurons import FixedPointLIFNode, membrane_range, membrane_step


def test_membrane_on_grid_and_saturates():
    bits = 4
    node = FixedPointLIFNode(bits, tau=2.0, v_threshold=1.0)
    node.store_v_seq = True
    x = torch.tensor([[-50.0, -0.3, 0.37, 0.9, 1.7]]).repeat(6, 1).unsqueeze(1)  # [T, 1, 5]
    node(x)
    step = membrane_step(1.0, bits)
    lo, hi = membrane_range(bits)
    v = node.v_seq
    codes = v / step
    assert torch.allclose(codes, torch.round(codes))
    assert codes.min() >= lo and codes.max() <= hi
    # a large negative input drives the membrane to the register's floor and holds it there
    assert codes[-1, 0, 0].item() == lo
    functional.reset_net(node)


def test_full_precision_matches_spikingjelly_lif():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 20) * 2
    ours = FixedPointLIFNode(None, tau=2.0, v_threshold=1.0)
    ref = neuron.LIFNode(tau=2.0, v_threshold=1.0, detach_reset=True, step_mode="m")
    assert torch.equal(ours(x), ref(x))


def test_quantized_neuron_fires_like_integer_hardware():
    # 8-bit membrane, threshold 64 LSBs: input 0.75 -> v 0.375, 0.5625, 0.65625 ... crosses at step where v >= 1
    node = FixedPointLIFNode(8, tau=2.0, v_threshold=1.0)
    x = torch.full((8, 1, 1), 2.0)
    spikes = node(x).flatten().tolist()
    assert spikes == [1.0] * 8  # v = 1.0 every step: fires and resets each time


def test_gradient_flows_through_quantized_membrane():
    node = FixedPointLIFNode(6)
    x = (torch.rand(4, 2, 10) * 2).requires_grad_()
    node(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
