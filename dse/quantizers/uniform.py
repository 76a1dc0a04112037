"""`uniform`: symmetric k-bit weights with a per-output-channel scale and a straight-through estimator.

Levels: k = 1 gives {-s, +s} (sign); k >= 2 gives the narrow symmetric grid
{-q, ..., q} x s with q = 2^(k-1) - 1 (2 bits is ternary). Scale options:
- `mean` (default, stable at low bits, stack-notes.md): 1 bit uses s = mean|w| (XNOR-Net);
  k >= 2 clips at alpha = kappa_k x std(w), kappa from ACIQ's Gaussian table
  (Banner et al., NeurIPS 2019), never beyond max|w|; s = alpha / q.
- `max`: s = max|w| / q (1 bit: max|w|).
- `learned`: LSQ (Esser et al., ICLR 2020): s is learned per channel, initialised by the
  `mean` rule. It is parameterised as log s: with Adam every step moves a parameter by about
  lr whatever its gradient scale, which wiped out 8-bit scales (~1e-3) in plain LSQ
  (validation accuracy 0.34-0.46 on digits); in log space a step is a relative change.
Membranes use the fixed-point LIF neuron (dse/neurons.py).
"""

from __future__ import annotations

import torch
from torch import nn

from dse.training.neurons import FixedPointLIFNode
from dse.quantizers._base import LayerContext, QuantizerType, round_ste, sign_ste

# ACIQ optimal clipping value / sigma for Gaussian weights, by bit width (Banner et al. 2019, Table 1).
ACIQ_GAUSSIAN_CLIP = {2: 1.71, 3: 2.15, 4: 2.55, 5: 2.94, 6: 3.29, 7: 3.61, 8: 3.92}


def levels_max(bits: int) -> int:
    """Largest integer code q of a symmetric k-bit grid (1 bit: the sign code 1)."""
    return 1 if bits == 1 else 2 ** (bits - 1) - 1


def statistic_scale(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel scale from weight statistics (the `mean` rule), shape [out, 1, ...]."""
    flat = weight.detach().flatten(1)
    if bits == 1:
        s = flat.abs().mean(dim=1)
    else:
        max_abs = flat.abs().amax(dim=1)
        kappa = ACIQ_GAUSSIAN_CLIP.get(bits)
        alpha = max_abs if kappa is None else torch.minimum(kappa * flat.std(dim=1, unbiased=False), max_abs)
        s = alpha / levels_max(bits)
    s = torch.clamp(s, min=1e-8)
    return s.view(-1, *([1] * (weight.dim() - 1)))


def max_scale(weight: torch.Tensor, bits: int) -> torch.Tensor:
    flat = weight.detach().flatten(1)
    s = torch.clamp(flat.abs().amax(dim=1) / levels_max(bits), min=1e-8)
    return s.view(-1, *([1] * (weight.dim() - 1)))


class UniformWeightQuantizer(nn.Module):
    """Fake-quantizes a weight tensor to a symmetric k-bit grid with a per-channel scale."""

    def __init__(self, bits: int, out_channels: int, scale: str = "mean") -> None:
        super().__init__()
        if scale not in ("mean", "max", "learned"):
            raise ValueError(f"unknown scale {scale!r}; accepted: mean, max, learned")
        self.bits = bits
        self.scale_mode = scale
        self.log_scale = nn.Parameter(torch.zeros(out_channels)) if scale == "learned" else None
        # a buffer, not a Python flag, so a loaded state dict is not re-initialised on first use
        self.register_buffer("initialised", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"bits={self.bits}, scale={self.scale_mode}"

    def scale(self, weight: torch.Tensor) -> torch.Tensor:
        """Per-channel scale s, shape [out, 1, ...]."""
        if self.scale_mode == "max":
            return max_scale(weight, self.bits)
        init = statistic_scale(weight, self.bits)
        if self.log_scale is None:
            return init
        if not bool(self.initialised):
            with torch.no_grad():
                self.log_scale.copy_(torch.log(init.flatten()))
                self.initialised.fill_(True)
        return torch.exp(self.log_scale).view(-1, *([1] * (weight.dim() - 1)))

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer codes and per-channel scale of the quantized weight (for export and tests)."""
        s = self.scale(weight)
        if self.bits == 1:
            q = torch.where(weight >= 0, 1.0, -1.0)
        else:
            qmax = levels_max(self.bits)
            q = torch.clamp(torch.round(weight / s), -qmax, qmax)
        return q.detach().to(torch.int32), s.detach()

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        s = self.scale(weight)
        if self.bits == 1:
            return sign_ste(weight / s) * s
        qmax = levels_max(self.bits)
        return torch.clamp(round_ste(weight / s), -qmax, qmax) * s


class UniformQuantizer(QuantizerType):
    """Symmetric uniform weights plus fixed-point saturating membranes."""

    name = "uniform"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        return UniformWeightQuantizer(bits, ctx.out_channels, ctx.options.get("scale", "mean"))

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)
