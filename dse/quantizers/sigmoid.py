"""`sigmoid`: differentiable quantization function for SNN QAT (Shymyrbay, Fouda, Eltawil, IJCNN 2023).

The quantization function is a linear combination of sigmoids, the one of Quantization Networks
(Yang et al., CVPR 2019; public code aliyun/alibabacloud-quantization-networks):

  training:   Q(w) = alpha (sum_{i=1..n} s_i sigmoid(T_s (beta w - b_i)) - o),  o = 1/2 sum_i s_i,
              each sigmoid argument clamped to [-10, 10] in the forward pass;
  inference:  Q(w) = alpha (sum_i s_i H(beta w - b_i) - o), exactly the quantized levels.

alpha and beta are learned (one each per layer); beta starts at 1.25 q_max / max|w| (5p / 4q
in Quantization Networks), alpha at 1 / beta. At evaluation (module.training False) the step
function replaces the sigmoids, so the evaluated weights take only the 2^k levels.
Binary: Q = alpha (2 sigmoid(T_s beta w) - 1) -> +-alpha.
Membranes use the project's fixed-point LIF neuron (dse/training/neurons.py).

Gradient, as in the Quantization Networks code (anybit.py, QuaOp.updateQuaGradWeight, the weight
quantizer; the activation quantizer in models/quantization.py, SigmoidT, differs, see below): the
backward pass is written by hand, not autograd through the clamp, and is
  dQ / d(beta w) = alpha T_s sum_i s_i sigmoid'(clamp(beta w - b_i, -10, 10)),
i.e. the derivative of the sigmoid at temperature 1, multiplied by T_s (their comment: "set T = 1
when train binary model"; the line that would use T_s inside the sigmoid is commented out). The
forward clamp therefore never zeroes a gradient: at an argument beyond +-10 the derivative is
sigmoid'(10) ~ 4.5e-5 times T_s, never 0, and weights within a few units of beta w of a boundary
get a large one. (`torch.clamp` under autograd, used here before, passed exactly 0 once
T_s |beta w - b_i| > 10, which froze most latent weights as T_s grew.) alpha and beta get the
gradients that follow from the same surrogate, as in updateQuaGradWeight. Implemented by
`SigmoidT`, an autograd Function; the forward values are unchanged.

Temperature annealing over the full schedule: Quantization Networks set T_s = (epoch + 1) T_0 at
every epoch of the whole run (quan_weight_main.py), capped at 2000 (anybit.py); their shipped
script (quan-weight.sh) runs 35 epochs at T_0 = 20, ending at 700. This project trains a trial for
E epochs (often 5), where (epoch + 1) T_0 would stop at 50 while the evaluated weights are the
T_s -> infinity step function. on_epoch_start therefore gets (epoch, E) and sets
  T_s = T_0 + (T_CAP - T_0) epoch / (E - 1)   (T_s = T_CAP when E = 1),
linear in the epoch as in Quantization Networks, T_0 at the first epoch and the cap 2000 at the
last, whatever E (PROPOSAL: the slope scaled to the trial's schedule and the final value the
code's cap). Option `temperature` sets T_0 in {10 (default), 20}. A trial stopped early
(pruning) ends below the cap; evaluation uses the step function either way.

Decisions and PROPOSALS:
- Levels for k bits: the 2^k odd integers q_j = 2j - (2^k - 1), j = 0 .. 2^k - 1 (k = 1: {-1, +1};
  k = 2: {-3, -1, 1, 3}), so a k-bit code uses all 2^k states and no zero level; n = 2^k - 1
  sigmoids with steps s_i = 2, o = 2^k - 1. (Quantization Networks also used grids with a zero.)
- Offsets b_i: Quantization Networks place them at cluster boundaries of the weights. Here, on the
  first forward pass, a 1-D k-means (Lloyd, 20 iterations, started at the levels) clusters beta w
  into 2^k groups and b_i are the midpoints between adjacent sorted centres; they stay fixed
  afterwards (a buffer). For 1 bit b_1 = 0.
- The temperature-1 derivative is used for every bit width (the code's active line; it ships
  only a weight configuration with levels {-1, 0, 1} and both offsets 0, a binary one). Their
  multi-level activation quantizer (SigmoidT) instead takes the derivative at T_s, at the clamped
  argument (never 0 either: T_s sigmoid'(10) beyond it); not used here.
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


def annealed_temperature(epoch: int, epochs: int, t0: float, cap: float = T_CAP) -> float:
    """T_s at the start of `epoch` (0-based) of `epochs`: linear from t0 (first epoch) to cap (last)."""
    if epochs <= 1:
        return float(cap)
    progress = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    return float(t0 + (cap - t0) * progress)


class SigmoidT(torch.autograd.Function):
    """sigmoid(clamp(T z, -10, 10)) forward; T sigmoid'(clamp(z, -10, 10)) backward (Quantization
    Networks' weight gradient: the derivative at temperature 1 times T, never zeroed by the clamp)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, temperature: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.temperature = temperature
        return torch.sigmoid(torch.clamp(temperature * z, -ARG_CLAMP, ARG_CLAMP))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (z,) = ctx.saved_tensors
        s = torch.sigmoid(torch.clamp(z, -ARG_CLAMP, ARG_CLAMP))
        return grad_output * ctx.temperature * s * (1.0 - s), None


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

    def set_epoch(self, epoch: int, epochs: int) -> None:
        """Anneal T_s over the trial's `epochs` (module docstring): t0 at epoch 0, T_CAP at the last."""
        self.temperature = annealed_temperature(epoch, epochs, self.t0)

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
        z = (self.beta * weight).unsqueeze(-1) - self._broadcast(self.offsets, weight)
        soft = SigmoidT.apply(z, self.temperature)
        return self.alpha * ((soft * self._broadcast(self.steps, weight)).sum(-1) - self.offset)


class SigmoidQuantizer(QuantizerType):
    """Sum-of-sigmoids weights annealed to a step function over the whole schedule; fixed-point membranes."""

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
                module.set_epoch(epoch, epochs)
