"""`mfp`: MFP-QSNN, memory-free and parallel quantized SNN (Zhang et al., ICASSP 2025, arXiv 2503.00040).

The paper's claim: quantizing the membrane potential loses history and costs accuracy;
memory-free quantization keeps all history without storing membrane potentials, trains in
parallel over time and infers asynchronously (reported: 42 % less memory, 3.1x faster training).

Sources searched for the method text and code (issue 15, item 2), none with more than the
abstract and the first paragraph of the introduction:
- the stored web pages (arxiv.org/html/2503.00040v1 is stored up to the introduction's first
  paragraph; arxivlens.com, newx.sg, researchtrend.ai, sciencestack.ai, scholarfeed.org: abstract
  and generated summaries), queries "MFP-QSNN memory-free parallel quantized spiking neural
  network", "memory-free quantization membrane potential parallel training asynchronous inference",
  "arxiv.org/pdf/2503.00040", and citing papers ("compared with MFP-QSNN");
- the documentation and GitHub issue indexes (the authors' names, "memory-free", the arXiv id);
- GitHub code: exact strings "MFP-QSNN" and "memory-free quantization" (no hit), "Memory-Free and
  Parallel" (three hits, all publication lists of the authors linking only the paper),
  repositories named *MFP* and *QSNN* (none is this paper's).
So everything below except that claim is a PROPOSAL, faithful to the abstract
(docs/quantizers.md, /work/shared/reference/quantizers.md section 3):

- Weights: b-bit symmetric uniform quantizer with a learned per-channel scale (LSQ-style, STE),
  bits 1..8 or full precision; the `uniform` type's `learned` scale does exactly that and is reused.
- Neuron: reset-free integration in closed form, u_t = sum_{i<=t} lambda^(t-i) I_i / tau with
  lambda = 1 - 1/tau (the same charge as the project's LIF with decay_input, minus the reset),
  s_t = H(u_t - theta) with the sigmoid surrogate of the other types.
- Parallel over time: U = M I with M[t, i] = lambda^(t-i) [i <= t] / tau, computed by ONE
  torch.einsum over the time axis, no Python loop over T (tests/test_quantizer_types.py checks
  it against a sequential loop and counts the einsum calls).
- Memory-free in the model: the neuron keeps no membrane register between timesteps (profile
  has_membrane_state = False, membrane bits "not applicable"). Its exact integer form does keep
  a wide integrator V per neuron, which the cost model books (ops.mfp_state_bits) and the Verilog
  stores: more state than an 8-bit LIF (docs/quantizers.md, Benchmark).
- Without a reset, a neuron whose input stays above threshold fires at every later step;
  the surrogate gradient is what teaches the layer to avoid that.
- SequentialResetFreeNeuron computes the same integration step by step (a loop over T): the
  reference for the tests and the sequential side of benchmarks/bench_mfp_parallel.py, which
  measures the paper's training speed-up claim on this project's nets (docs/quantizers.md).
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import surrogate
from torch import nn

from dse.quantizers._base import LayerContext, QuantizerType
from dse.quantizers.uniform import UniformWeightQuantizer


def decay_matrix(timesteps: int, tau: float, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """M[t, i] = lambda^(t-i) [i <= t] / tau with lambda = 1 - 1/tau (lower triangular, [T, T])."""
    lam = 1.0 - 1.0 / tau
    t = torch.arange(timesteps, device=device)
    diff = (t[:, None] - t[None, :]).to(dtype)
    powers = torch.where(diff >= 0, lam ** diff.clamp(min=0), torch.zeros((), dtype=dtype, device=device))
    return powers / tau


class ParallelResetFreeNeuron(nn.Module):
    """Multi-step neuron [T, B, ...] -> spikes [T, B, ...]: U = M I over time in one einsum, s = H(U - theta)."""

    step_mode = "m"

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0) -> None:
        super().__init__()
        if tau < 1.0:
            raise ValueError(f"tau must be >= 1 (decay lambda = 1 - 1/tau in [0, 1)), got {tau}")
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.surrogate_function = surrogate.Sigmoid()
        self._matrix: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_threshold={self.v_threshold}, reset=none, membrane=not stored"

    def matrix(self, timesteps: int, like: torch.Tensor) -> torch.Tensor:
        m = self._matrix
        if m is None or m.shape[0] != timesteps or m.dtype != like.dtype or m.device != like.device:
            m = decay_matrix(timesteps, self.tau, like.dtype, like.device)
            self._matrix = m
        return m

    def membrane(self, current_seq: torch.Tensor) -> torch.Tensor:
        """U [T, B, ...] = M I over the time axis (one einsum)."""
        return torch.einsum("ti,i...->t...", self.matrix(current_seq.shape[0], current_seq), current_seq)

    def forward(self, current_seq: torch.Tensor) -> torch.Tensor:
        return self.surrogate_function(self.membrane(current_seq) - self.v_threshold)

    def reset(self) -> None:
        """Nothing to reset: no state survives a forward pass (spikingjelly's reset_net calls this)."""


class SequentialResetFreeNeuron(ParallelResetFreeNeuron):
    """The same reset-free neuron integrated step by step, u_t = lambda u_{t-1} + I_t / tau (a loop over T):
    equal to the parallel form up to float rounding order; for tests and the speed-up benchmark."""

    def membrane(self, current_seq: torch.Tensor) -> torch.Tensor:
        lam = 1.0 - 1.0 / self.tau
        u = torch.zeros_like(current_seq[0])
        steps = []
        for current in current_seq:
            u = lam * u + current / self.tau
            steps.append(u)
        return torch.stack(steps)


class MFPQuantizer(QuantizerType):
    """Learned-scale uniform weights and a memory-free, time-parallel, reset-free neuron."""

    name = "mfp"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if not 1 <= bits <= 8:
            raise ValueError(f"quantizer 'mfp' cannot take weight bits {bits}; accepted: 1..8, fp")
        return UniformWeightQuantizer(bits, ctx.out_channels, scale="learned")

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        if membrane_bits is not None:
            raise ValueError("quantizer 'mfp' keeps no membrane: membrane bits do not apply (give None)")
        return ParallelResetFreeNeuron(tau=tau, v_threshold=v_threshold)
