"""Spiking neurons with a fixed-point membrane, built on spikingjelly's LIFNode.

An integer hardware neuron keeps its membrane in a b-bit signed register that saturates.
FixedPointLIFNode reproduces that in training: after every charge the membrane is rounded
to the b-bit grid (straight-through gradient) and clamped to the register's range.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import base, neuron, surrogate

from dse.quantizers._base import round_ste


def membrane_step(v_threshold: float, bits: int) -> float:
    """Value of one membrane LSB: the threshold is 2^(bits-2) LSBs, the range is [-2, 2) x threshold."""
    return v_threshold / float(2 ** (bits - 2))


def membrane_range(bits: int) -> tuple[int, int]:
    """Signed integer range of a b-bit membrane register."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def quantize_membrane(v: torch.Tensor, bits: int, v_threshold: float) -> torch.Tensor:
    """Round v to the b-bit fixed-point grid and saturate, with a straight-through gradient."""
    step = membrane_step(v_threshold, bits)
    lo, hi = membrane_range(bits)
    return torch.clamp(round_ste(v / step), float(lo), float(hi)) * step


class FixedPointLIFNode(neuron.LIFNode):
    """LIF neuron (hard reset to 0, decay_input) whose membrane lives on a b-bit saturating grid.

    bits=None leaves the membrane in float32 (spikingjelly's own LIF update). The multi-step
    path runs the per-step functional update over T so quantization happens at every step,
    as in hardware.
    """

    def __init__(self, bits: int | None, tau: float = 2.0, v_threshold: float = 1.0) -> None:
        if bits is not None and bits < 2:
            raise ValueError(f"membrane bits must be >= 2 (sign + threshold), got {bits}")
        super().__init__(
            tau=float(tau), decay_input=True, v_threshold=float(v_threshold), v_reset=0.0,
            surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m",
        )
        self.bits = bits

    def extra_repr(self) -> str:
        return super().extra_repr() + f", membrane_bits={self.bits}"

    def single_step_functional_forward(self, inputs, states, **kwargs):
        if self.bits is None:
            return super().single_step_functional_forward(inputs, states, **kwargs)
        x = inputs[0]
        v = states[0]
        if not isinstance(v, torch.Tensor):
            v = torch.full_like(x, float(v))
        h = v + (x - (v - self.v_reset)) / self.tau
        h = quantize_membrane(h, self.bits, self.v_threshold)
        spike = self.surrogate_function(h - self.v_threshold)
        spike_reset = spike.detach() if self.detach_reset else spike
        v_next = (1.0 - spike_reset) * h + spike_reset * self.v_reset
        return (spike,), (v_next, *states[1:])

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        if self.bits is None:
            return super().multi_step_functional_forward(inputs, states, **kwargs)
        return base.MemoryModule.multi_step_functional_forward(self, inputs, states, **kwargs)
