"""`sigmoid`: differentiable quantization function for SNN QAT (Shymyrbay, Fouda, Eltawil, IJCNN 2023).

The quantization function is a linear combination of sigmoids, the one of Quantization Networks
(Yang et al., CVPR 2019; public code aliyun/alibabacloud-quantization-networks):

  training:   Q(w) = alpha (sum_{i=1..n} s_i sigmoid(T_s (beta w - b_i)) - o),  o = 1/2 sum_i s_i,
              each sigmoid argument clamped to [-10, 10];
  inference:  Q(w) = alpha (sum_i s_i H(beta w - b_i) - o), exactly the quantized levels.

alpha and beta are learned (one each per layer); beta starts at 1.25 q_max / max|w| (5p / 4q
in Quantization Networks), alpha at 1 / beta. The temperature is annealed by on_epoch_start:
T_s = (epoch + 1) T_0, capped at 2000; option `temperature` sets T_0 in {10 (default), 20}.
At evaluation (module.training False) the step function replaces the sigmoids, so the
evaluated weights take only the 2^k levels. Binary: Q = alpha (2 sigmoid(T_s beta w) - 1) -> +-alpha.
Membranes use the project's fixed-point LIF neuron (dse/neurons.py).

Decisions and PROPOSALS:
- Levels for k bits: the 2^k odd integers q_j = 2j - (2^k - 1), j = 0 .. 2^k - 1 (k = 1: {-1, +1};
  k = 2: {-3, -1, 1, 3}), so a k-bit code uses all 2^k states and no zero level; n = 2^k - 1
  sigmoids with steps s_i = 2, o = 2^k - 1. (Quantization Networks also used grids with a zero.)
- Offsets b_i: Quantization Networks place them at cluster boundaries of the weights. Here, on the
  first forward pass, a 1-D k-means (Lloyd, 20 iterations, started at the levels) clusters beta w
  into 2^k groups and b_i are the midpoints between adjacent sorted centres; they stay fixed
  afterwards (a buffer). For 1 bit b_1 = 0.
- 8 bits are accepted (255 sigmoids per weight; training memory grows with 2^k, fine for the
  small nets of this project, slow for large ones). Bits 5..7 are not offered.
- alpha and beta are learned as log alpha and log beta: they span orders of magnitude (beta is
  about 1.25 q_max / max|w|, 2e3..3e3 at 8 bits; alpha its inverse), and Adam moves a parameter by
  about lr per step whatever its scale, which broke plain alpha, beta at 4 and 8 bits on digits
  (the `uniform` type's learned scale had the same problem and the same fix).
- H(0) = 1 (a weight exactly on a boundary takes the upper level).
"""

from __future__ import annotations

import torch
from torch import nn

from dse.training.neurons import FixedPointLIFNode
from dse.quantizers._base import LayerContext, QuantizerType

T_CAP = 2000.0
ARG_CLAMP = 10.0
KMEANS_ITERATIONS = 20


def sigmoid_levels(bits: int) -> torch.Tensor:
    """The 2^k odd-integer levels, ascending."""
    n = 2 ** bits
    return torch.arange(n, dtype=torch.float32) * 2.0 - (n - 1)


def kmeans_boundaries(values: torch.Tensor, levels: torch.Tensor, iterations: int = KMEANS_ITERATIONS) -> torch.Tensor:
    """Midpoints between the sorted centres of a 1-D k-means of `values` started at `levels`."""
    centres = levels.to(values.dtype).clone()
    flat = values.flatten()
    for _ in range(iterations):
        assign = (flat[:, None] - centres[None, :]).abs().argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, assign, flat)
        counts = torch.zeros_like(centres).index_add_(0, assign, torch.ones_like(flat))
        centres = torch.where(counts > 0, sums / counts.clamp(min=1), centres)  # empty clusters stay put
        centres, _ = centres.sort()
    boundaries = (centres[1:] + centres[:-1]) / 2
    # keep boundaries strictly increasing (empty clusters can make centres coincide)
    for i in range(1, len(boundaries)):
        if boundaries[i] <= boundaries[i - 1]:
            boundaries[i] = boundaries[i - 1] + 1e-3
    return boundaries


class SigmoidWeightQuantizer(nn.Module):
    """Sum-of-sigmoids quantizer (training) / step function on the same levels (evaluation)."""

    def __init__(self, bits: int, t0: float = 10.0) -> None:
        super().__init__()
        if bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        self.bits = bits
        self.t0 = float(t0)
        self.temperature = float(t0)
        levels = sigmoid_levels(bits)
        self.register_buffer("levels", levels)
        self.register_buffer("steps", levels[1:] - levels[:-1])  # s_i
        self.register_buffer("offsets", (levels[1:] + levels[:-1]) / 2)  # b_i, set from the weights on first use
        self.offset = float(self.steps.sum()) / 2  # o
        # learned in log space (see `Decisions`): alpha = exp(log_alpha), beta = exp(log_beta)
        self.log_alpha = nn.Parameter(torch.zeros(()))
        self.log_beta = nn.Parameter(torch.zeros(()))
        self.register_buffer("initialised", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"bits={self.bits}, temperature={self.temperature:g}"

    def set_epoch(self, epoch: int) -> None:
        self.temperature = min((epoch + 1) * self.t0, T_CAP)

    def _init(self, weight: torch.Tensor) -> None:
        if bool(self.initialised):
            return
        with torch.no_grad():
            w = weight.detach()
            q_max = float(self.levels[-1])
            beta = 1.25 * q_max / w.abs().max().clamp(min=1e-8)
            self.log_beta.copy_(torch.log(beta))
            self.log_alpha.copy_(-torch.log(beta))
            if self.bits > 1:
                self.offsets.copy_(kmeans_boundaries(beta * w, self.levels))
            else:
                self.offsets.zero_()
            self.initialised.fill_(True)

    @property
    def alpha(self) -> torch.Tensor:
        return torch.exp(self.log_alpha)

    @property
    def beta(self) -> torch.Tensor:
        return torch.exp(self.log_beta)

    def _broadcast(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x.view(*([1] * weight.dim()), -1)

    def step_function(self, weight: torch.Tensor) -> torch.Tensor:
        """alpha (sum_i s_i H(beta w - b_i) - o): the evaluation-time weights."""
        self._init(weight)
        arg = (self.beta * weight).unsqueeze(-1) - self._broadcast(self.offsets, weight)
        heaviside = (arg >= 0).to(weight.dtype)
        return self.alpha * ((heaviside * self._broadcast(self.steps, weight)).sum(-1) - self.offset)

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Level index j in 0 .. 2^k - 1 per weight, and the levels alpha q_j (for export and tests)."""
        self._init(weight)
        arg = (self.beta.detach() * weight.detach()).unsqueeze(-1) - self._broadcast(self.offsets, weight)
        return (arg >= 0).sum(-1).to(torch.int32), (self.alpha.detach() * self.levels)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.step_function(weight)
        self._init(weight)
        arg = self.temperature * ((self.beta * weight).unsqueeze(-1) - self._broadcast(self.offsets, weight))
        soft = torch.sigmoid(torch.clamp(arg, -ARG_CLAMP, ARG_CLAMP))
        return self.alpha * ((soft * self._broadcast(self.steps, weight)).sum(-1) - self.offset)


class SigmoidQuantizer(QuantizerType):
    """Sum-of-sigmoids weights annealed to a step function; fixed-point membranes."""

    name = "sigmoid"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits not in self.profile.weight_bits:
            raise ValueError(
                f"quantizer 'sigmoid' cannot take weight bits {bits}; accepted: "
                f"{', '.join(str(b) for b in self.profile.weight_bits)}"
            )
        return SigmoidWeightQuantizer(bits, float(ctx.options.get("temperature", 10)))

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        for module in model.modules():
            if isinstance(module, SigmoidWeightQuantizer):
                module.set_epoch(epoch)
