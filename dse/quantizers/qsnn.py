"""`qsnn`: Q-SNN with Weight-Spike Dual Regulation (Wei et al., ACM MM 2024, arXiv 2406.13672).

Weights (hidden layers, 1 bit): per output channel w_hat = (w - mu_c) / sigma_c, b = sign(w_hat),
scale s_c = 2^round(log2 mean|w_hat_c|) (detached: a power-of-two shift), w_q = s_c b.
Backward through sign: k t (1 - tanh^2(t w_hat)) with t = 10^(-1 + 2 e / E) over the epochs e of E
and k = max(1 / t, 1), set by on_epoch_start. The first and the readout layer are 8-bit
(round to 127 levels of the layer's maximum, straight-through), as in the paper; the profile
pins them (QuantizerProfile.edge_layer_bits = 8) and the search space gives them 8 bits.

Membrane (b bits), in a LIF neuron subclassing spikingjelly's LIFNode: u_t = 0.5 u_hat_{t-1} + x_t
(tau = 2: decay 1 - 1/tau = 0.5, input not decayed), s_t = H(u_t - 1) with the triangle surrogate
max(0, g - |u - V_th|) / g^2, g = 1, hard reset u_t <- (1 - s_t) u_t (not detached), then
u_hat_t = round(clamp(tanh(u_t) / alpha, -1, 1) (2^(b-1) - 1)) alpha / (2^(b-1) - 1), alpha = max|tanh u_t|
(detached), straight-through round. Membrane bits None skip the tanh and the rounding.

Loss (spike half of WS-DR): lambda mean_l (r_l - 0.5)^2, lambda = 5e-3, r_l the mean firing rate of
LIF layer l recorded in the neuron's forward; the first and the last LIF layers are left out
(fire_rate[1:-1] in the authors' code), so a net with fewer than three spiking layers gets no term.

Source: the authors' public code (Wenjie-Wei/Q-SNN: models/quant_function.py, models/layers.py,
functions.py); the code here is written independently.

Decisions and PROPOSALS:
- Option `rate_layers`: `inner` (default, the paper: first and last LIF layers excluded) or `all`
  (PROPOSAL: every LIF layer, so the small nets of this project get the regulariser at all).
- The 8-bit edge quantizer scales by max|w| (a symmetric grid of +-127 levels); the authors' code
  divides by the signed maximum, which is max|w| unless the most negative weight is larger.
- The paper's classification loss averages the cross-entropy of every timestep; the project's
  training loop uses the cross-entropy of the time-averaged readout for every type, kept here.
- The weight's binary code of an exactly-zero standardised weight is +1 (torch.sign would give 0).
- Weight bits other than 1 and 8 are refused; 8 on a hidden layer (a candidate built by hand)
  uses the 8-bit edge quantizer.
"""

from __future__ import annotations

import math

import torch
from spikingjelly.activation_based import base, neuron
from torch import nn

from dse.quantizers._base import LayerContext, QuantizerType

RATE_TARGET = 0.5
RATE_LAMBDA = 5e-3
T_MIN, T_MAX = 0.1, 10.0  # the estimator's temperature t runs 10^-1 -> 10^1 over training


def estimator_temperature(epoch: int, epochs: int) -> tuple[float, float]:
    """(t, k) of the tanh estimator at the start of `epoch` of `epochs` (the authors' Log_UP)."""
    lo, hi = math.log10(T_MIN), math.log10(T_MAX)
    t = 10.0 ** (lo + (hi - lo) * epoch / max(epochs, 1))
    return t, max(1.0 / t, 1.0)


class TanhSign(torch.autograd.Function):
    """sign(x) in {-1, +1} forward; k t (1 - tanh^2(t x)) backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: float, t: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.k, ctx.t = k, t
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.k * ctx.t * (1.0 - torch.tanh(ctx.t * x) ** 2), None, None


class QSNNBinaryWeight(nn.Module):
    """Standardised binary weights with a power-of-two per-channel scale."""

    def __init__(self) -> None:
        super().__init__()
        self.t, self.k = estimator_temperature(0, 1)

    def extra_repr(self) -> str:
        return f"bits=1, t={self.t:.3g}, k={self.k:.3g}"

    def set_epoch(self, epoch: int, epochs: int) -> None:
        self.t, self.k = estimator_temperature(epoch, epochs)

    @staticmethod
    def standardise(weight: torch.Tensor) -> torch.Tensor:
        flat = weight.flatten(1)
        shape = (-1, *([1] * (weight.dim() - 1)))
        mu = flat.mean(dim=1).view(shape)
        sigma = flat.std(dim=1).view(shape).clamp(min=1e-8)
        return (weight - mu) / sigma

    @staticmethod
    def shift_scale(w_hat: torch.Tensor) -> torch.Tensor:
        mean_abs = w_hat.detach().flatten(1).abs().mean(dim=1).clamp(min=1e-8)
        return torch.pow(2.0, torch.round(torch.log2(mean_abs))).view(-1, *([1] * (w_hat.dim() - 1)))

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w_hat = self.standardise(weight.detach())
        return torch.where(w_hat >= 0, 1, -1).to(torch.int32), self.shift_scale(w_hat)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w_hat = self.standardise(weight)
        return TanhSign.apply(w_hat, self.k, self.t) * self.shift_scale(w_hat)


class QSNNEdgeWeight(nn.Module):
    """8-bit weights of the first and last layer: 127 levels of max|w| per layer, straight-through."""

    levels = 127

    def extra_repr(self) -> str:
        return "bits=8"

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        m = weight.detach().abs().max().clamp(min=1e-8)
        q = torch.round(weight.detach() / m * self.levels) / self.levels * m
        return q + (weight - weight.detach())  # straight-through; forward value exactly q


class Triangle(torch.autograd.Function):
    """Heaviside forward; triangle surrogate max(0, g - |x|) / g^2 backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gamma: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.gamma = gamma
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        g = ctx.gamma
        return grad_output * (g - x.abs()).clamp(min=0) / (g * g), None


class TriangleSurrogate(nn.Module):
    """Spike function with the triangle surrogate, usable as a spikingjelly surrogate_function."""

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Triangle.apply(x, self.gamma)


def quantize_membrane_tanh(u: torch.Tensor, bits: int) -> torch.Tensor:
    """Q-SNN's membrane quantizer: b-bit grid of alpha = max|tanh u| over the tensor, STE round."""
    u = torch.tanh(u)
    alpha = u.detach().abs().max().clamp(min=1e-8)
    levels = 2 ** (bits - 1) - 1
    scaled = torch.clamp(u / alpha, -1.0, 1.0) * levels
    return (torch.round(scaled).detach() + (scaled - scaled.detach())) * alpha / levels


class QSNNLIFNode(neuron.LIFNode):
    """Q-SNN's LIF: u_t = 0.5 u_hat_{t-1} + x_t, triangle surrogate, hard reset, then b-bit membrane.

    Records the mean firing rate of its last forward pass (with gradient) in `last_rate`.
    """

    def __init__(self, bits: int | None, tau: float = 2.0, v_threshold: float = 1.0) -> None:
        if bits is not None and bits < 2:
            raise ValueError(f"membrane bits must be >= 2 (one level each side of zero), got {bits}")
        super().__init__(
            tau=float(tau), decay_input=False, v_threshold=float(v_threshold), v_reset=0.0,
            surrogate_function=TriangleSurrogate(1.0), detach_reset=False, step_mode="m",
        )
        self.bits = bits
        self.last_rate: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", membrane_bits={self.bits}"

    def single_step_functional_forward(self, inputs, states, **kwargs):
        x = inputs[0]
        v = states[0]
        if not isinstance(v, torch.Tensor):
            v = torch.full_like(x, float(v))
        h = v * (1.0 - 1.0 / self.tau) + x
        spike = self.surrogate_function(h - self.v_threshold)
        v_next = (1.0 - spike) * h
        if self.bits is not None:
            v_next = quantize_membrane_tanh(v_next, self.bits)
        return (spike,), (v_next, *states[1:])

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        return base.MemoryModule.multi_step_functional_forward(self, inputs, states, **kwargs)

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        spikes = super().multi_step_forward(x_seq, *args, **kwargs)
        self.last_rate = spikes.mean()
        return spikes


class QSNNQuantizer(QuantizerType):
    """Binary hidden weights, 8-bit edges, tanh-quantized membranes, firing-rate regulariser."""

    name = "qsnn"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits == 1:
            return QSNNBinaryWeight()
        if bits == 8:
            return QSNNEdgeWeight()
        raise ValueError(f"quantizer 'qsnn' cannot take weight bits {bits}; accepted: 1 (hidden layers), 8 (first and last)")

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return QSNNLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        for module in model.modules():
            if isinstance(module, QSNNBinaryWeight):
                module.set_epoch(epoch, epochs)

    def loss_terms(self, model, logits_seq, targets, inputs):
        neurons = [n for n in model.neurons if isinstance(n, QSNNLIFNode)]
        options = self.profile.check_options(model.candidate.quantizer_options)
        if options["rate_layers"] == "inner":
            neurons = neurons[1:-1]
        rates = [n.last_rate for n in neurons if n.last_rate is not None]
        if not rates:
            return None
        return RATE_LAMBDA * torch.stack([(r - RATE_TARGET) ** 2 for r in rates]).mean()
