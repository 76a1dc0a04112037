"""`tawq`: Temporal-adaptive Weight Quantization (TaWQ, arXiv 2511.17567, 2025).

Each layer's latent weight is standardised, w_hat = (W - mean W) / std W (gradients flow through
mean and std), and fed as a constant input to a ternary "weight neuron" (v_0 = 0, tau = 2,
threshold V = 0.25): v_t = v_{t-1} + (w_hat - v_{t-1}) / tau, s_t = 1/2 [sgn(v_t - V) + sgn(v_t + V)]
in {-1, 0, +1}, hard reset v_t <- (1 - |stopgrad s_t|) v_t. Timestep t of the layer uses
W_q,t = s_t / (mean over fan-in of |s_t| + 1e-6): one scale per timestep and output channel.
Large weights fire at every step; small ones fire at some steps only, so a weight's magnitude is
rate-coded in time and the weights differ from timestep to timestep. Backward: each sgn has the
sigmoid surrogate a sig(a x)(1 - sig(a x)), a = 4, times the 1/2 of the fire function. This
follows the authors' public code (TheBrainLab/TaWQ-ZhangHan, cifar100/tawq.py) as far as the
formulas go; the code here is written independently. No extra loss term; membranes use the
project's fixed-point LIF neuron (dse/neurons.py).

Decisions and PROPOSALS (not shown by any source):
- Ties: the forward pass writes the fire function as [v > V] - [v < -V], which equals the paper's
  1/2 [sgn(v - V) + sgn(v + V)] except exactly at v = +-V, where sgn(0) = 0 would give 1/2.
  That keeps the weights strictly ternary.
- First and last layers: the paper keeps the stem and the classifier in full precision. Here the
  candidate decides: the profile accepts 2 bits only, so every layer, including the first and
  the readout, is ternary per timestep, and the cost model books exactly that. (A weight bit of
  None, should a candidate carry one, gives an unquantized layer.)
- Storage encoding: T ternary codes of 2 bits per weight (storage_bits_per_weight = 2 T), read
  2 bits per weight per timestep. The sequence s_1..s_T is a deterministic, piecewise-constant
  function of w_hat, so a layer has only a handful of distinct sequences; an index into a
  per-layer table of sequences would need fewer bits (docs/quantizers.md counts them) but one
  table lookup per weight read, and the cost model's read accounting assumes the 2 T encoding.
- Scale memory: one fp16 scale per timestep and output channel (T x out); the cost model books
  one per output channel (it does not know the scales are per timestep).
- Option `scale`: `paper` (default, the formula above) or `latent` (PROPOSAL): W_q,t = s_t
  mean_c|W| / mean|s_t|, i.e. the paper's scale times the latent channel's mean |W| (detached).
  The paper's networks have batch norm after every layer, which absorbs the weight magnitude;
  this project's networks have none, and unit-magnitude weights overdrive the next layer: on
  digits, MLP 64-128-128-10, T = 4, 15 epochs, 3 seeds, `paper` reached 0.900 +- 0.003 and
  `latent` 0.970 +- 0.004 (benchmarks/quantizers/results.md).
- The multi-bit variant (mTaWQ) is not implemented: its formula was not found.
"""

from __future__ import annotations

import torch
from torch import nn

from dse.training.neurons import FixedPointLIFNode
from dse.quantizers._base import LayerContext, QuantizerType

WEIGHT_NEURON_TAU = 2.0
WEIGHT_NEURON_THRESHOLD = 0.25
SURROGATE_ALPHA = 4.0
SCALE_EPS = 1e-6
SCALE_MODES = ("paper", "latent")


class TernaryFire(torch.autograd.Function):
    """s = [v > V] - [v < -V]; backward: 1/2 sum over +-V of the sigmoid surrogate of sgn."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, threshold: float, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(v)
        ctx.threshold, ctx.alpha = threshold, alpha
        return (v > threshold).to(v.dtype) - (v < -threshold).to(v.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (v,) = ctx.saved_tensors
        a, th = ctx.alpha, ctx.threshold
        sg1 = torch.sigmoid(a * (v - th))
        sg2 = torch.sigmoid(a * (v + th))
        grad = 0.5 * a * (sg1 * (1.0 - sg1) + sg2 * (1.0 - sg2))
        return grad_output * grad, None, None


def standardise(weight: torch.Tensor) -> torch.Tensor:
    """w_hat = (W - mean W) / std W over the whole layer (gradients flow through both)."""
    return (weight - weight.mean()) / weight.std()


def weight_neuron_spikes(
    w_hat: torch.Tensor, timesteps: int, tau: float = WEIGHT_NEURON_TAU,
    threshold: float = WEIGHT_NEURON_THRESHOLD, alpha: float = SURROGATE_ALPHA,
) -> torch.Tensor:
    """Ternary spikes [T, *w_hat.shape] of the weight-LIF driven by the constant input w_hat."""
    v = torch.zeros_like(w_hat)
    spikes = []
    for _ in range(timesteps):  # T is small; the loop runs over the weights, not the batch
        v = v + (w_hat - v) / tau
        s = TernaryFire.apply(v, threshold, alpha)
        v = (1.0 - s.detach().abs()) * v
        spikes.append(s)
    return torch.stack(spikes)


class TaWQWeightQuantizer(nn.Module):
    """Latent weight [out, ...] -> per-timestep ternary weights [T, out, ...] with per-(t, channel) scale."""

    def __init__(self, timesteps: int, scale: str = "paper") -> None:
        super().__init__()
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        if scale not in SCALE_MODES:
            raise ValueError(f"unknown scale {scale!r}; accepted: {', '.join(SCALE_MODES)}")
        self.timesteps = timesteps
        self.scale_mode = scale

    def extra_repr(self) -> str:
        return (f"timesteps={self.timesteps}, tau={WEIGHT_NEURON_TAU}, threshold={WEIGHT_NEURON_THRESHOLD}, "
                f"scale={self.scale_mode}")

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ternary codes [T, out, ...] (int32) and the scales [T, out, 1, ...] (for export and tests)."""
        s = weight_neuron_spikes(standardise(weight.detach()), self.timesteps)
        return s.to(torch.int32), self._scale(s, weight).detach()

    def _scale(self, spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        fan_in_dims = tuple(range(2, spikes.dim()))
        scale = 1.0 / (spikes.abs().mean(dim=fan_in_dims, keepdim=True) + SCALE_EPS)
        if self.scale_mode == "latent":
            magnitude = weight.detach().abs().flatten(1).mean(dim=1)
            scale = scale * magnitude.view(1, -1, *([1] * (weight.dim() - 1)))
        return scale

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        spikes = weight_neuron_spikes(standardise(weight), self.timesteps)
        return spikes * self._scale(spikes, weight)


class TaWQQuantizer(QuantizerType):
    """Per-timestep ternary weights from a weight-LIF; fixed-point membranes."""

    name = "tawq"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits != 2:
            raise ValueError(f"quantizer 'tawq' cannot take weight bits {bits}; accepted: 2 (ternary per timestep)")
        return TaWQWeightQuantizer(ctx.timesteps, ctx.options.get("scale", "paper"))

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)
