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
u_hat_t = round(clamp(tanh(u_t) / alpha, -1, 1) (2^(b-1) - 1)) alpha / (2^(b-1) - 1), straight-through round.
Training: alpha = max|tanh u_t| over the tensor (detached), as in the paper; the registered buffer
`alpha` follows it by an exponential moving average (momentum ALPHA_MOMENTUM = 0.1, the first update
copies it). Eval and export use the buffer, fixed, so a sample's spikes do not depend on the rest of
its batch and the quantizer is a fixed staircase (integer thresholds, docs/integer-semantics.md).
The authors' code takes the tensor max at every call, in test too (a PROPOSAL here, like BatchNorm's
running statistics; an average, not the running maximum, because tanh saturates at 1 early in
training and a maximum would keep alpha there). Membrane bits None skip the tanh and the rounding.

Loss, as in the authors' functions.py (proposedLoss): (1/T) sum_t CE(o_t, y) + lambda mean_l (r_l - 0.5)^2,
lambda = 5e-3: the classification half is the mean over timesteps of the per-timestep cross-entropy
(classification_loss; not the cross-entropy of the time-averaged readout the other types use), and
the spike half of WS-DR pushes r_l, the mean firing rate over [T, B, neurons] of LIF layer l
(recorded in the neuron's forward, with gradient), towards 0.5, the rate at which a binary spike's
entropy is largest (the abstract: WS-DR is "inspired by information entropy theory"; functions.py
names the term `Entro`). proposedLoss averages over the regularised layers and main_training_parallel.py
sets lambda (`lamb_f`) to 5e-3.

Which LIF layers the rate term regularises (`rate_layers`, default `inner`):
- The authors' code (models/resnet_models.py) appends the rate of every LIF layer in forward order
  (the stem's LIF, then both LIFs of every residual block) and proposedLoss averages
  fire_rate[1:-1], with the comment "del the first and the last layer": it leaves out the LIF right
  after the 8-bit first layer and the LIF that feeds the 8-bit classifier, keeping the ones inside
  the binary body. Neither their code nor the abstract gives more of a reason. Their nets have
  17 (ResNet-19) or more LIF layers, so the slice always leaves almost all of them.
- The search spaces of this project have one or two spiking layers, where fire_rate[1:-1] is empty
  and the term would never run (and a 1-hidden-layer Q-SNN net has no binary layer at all).
  `inner` therefore regularises the LIF layers strictly between the first and the last when there
  are three or more (exactly the authors' slice), and EVERY LIF layer when there are one or two
  (PROPOSAL: the nearest thing to the authors' loss that still runs; on those nets every LIF layer
  is an edge one). So every Q-SNN net with a hidden spiking layer gets the term.
- `all`: every LIF layer, whatever the depth (PROPOSAL).

Source: the authors' public code (Wenjie-Wei/Q-SNN: models/quant_function.py, models/layers.py,
models/resnet_models.py, functions.py, main_training_parallel.py); the code here is written
independently.

Normalisation (option `affine`): the authors' ResNets wrap every binary conv with a batch norm
(models/resnet_models.py: tdLayer(QConv2d, tdBatchNorm)), which absorbs the magnitude of +-s_c. This project's nets have
none, and s_c = 2^round(log2 mean|w_hat|) is about 1 for standardised weights, so a binary layer with
fan-in n drives the next one with currents of order sqrt(n) thresholds. Measured (docs/quantizers.md,
Benchmark): with two binary hidden layers (MLP 128-128-128) and no gain the net did not train at all
(digits-dvs: chance in 15 of 15 runs).

Decisions and PROPOSALS:
- Option `rate_layers`, see above.
- Option `affine` (the batch-norm stand-in, like `tawq`'s): `scale` (default) multiplies each binary
  channel's scale by a learned gain g_c = exp(l_c) / sqrt(fan_in) (l_c learned from 0, so a layer
  starts at a Kaiming-initialised layer's magnitude), like batch norm's gamma folded at inference;
  the weight becomes g_c s_c b, still one scale per channel, so it folds into the channel's
  multiplier at export exactly as s_c did (the power of two is no longer a pure shift, but the
  template multiplies by M_c in any case). `none`: the authors' s_c alone. Batch statistics and
  batch norm's shift are not modelled. A checkpoint stored before the option existed loads as
  `none`, as it was trained.
- The 8-bit edge quantizer scales by max|w| (a symmetric grid of +-127 levels); the authors' code
  divides by the signed maximum, which is max|w| unless the most negative weight is larger.
- The weight's binary code of an exactly-zero standardised weight is +1 (torch.sign would give 0).
- Weight bits other than 1 and 8 are refused; 8 on a hidden layer (a candidate built by hand)
  uses the 8-bit edge quantizer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import base, neuron
from torch import nn

from dse.quantizers._base import ChannelGainWeight, LayerContext, QuantizerType
from search_spaces.quantizer_types import get_profile

RATE_TARGET = 0.5
AFFINE_MODES = ("scale", "none")  # option `affine` (module docstring)
ALPHA_MOMENTUM = 0.1  # running membrane scale: alpha <- (1 - m) alpha + m max|tanh u| per training step
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


class QSNNBinaryWeight(ChannelGainWeight):
    """Standardised binary weights with a power-of-two per-channel scale, and with `affine: scale` a
    learned per-channel gain on top (the batch-norm stand-in; module docstring)."""

    def __init__(self, affine: str = "none", out_channels: int | None = None) -> None:
        if affine not in AFFINE_MODES:
            raise ValueError(f"unknown affine {affine!r}; accepted: {', '.join(AFFINE_MODES)}")
        super().__init__(affine, out_channels)  # with `scale`: g_c = exp(l_c) / sqrt(fan_in)
        self.t, self.k = estimator_temperature(0, 1)

    def extra_repr(self) -> str:
        return f"bits=1, t={self.t:.3g}, k={self.k:.3g}, affine={self.affine}"

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

    def scale(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Per-channel scale [out, 1, ...]: the power-of-two shift, times exp(l_c) / sqrt(fan_in) with the gain."""
        shift = self.shift_scale(w_hat)
        gain = self.learned_gain()
        return shift if gain is None else shift * (gain / math.sqrt(w_hat[0].numel())).view_as(shift)

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes +-1 (int32) and the per-channel scales, gain included (export, tests)."""
        w_hat = self.standardise(weight.detach())
        return torch.where(w_hat >= 0, 1, -1).to(torch.int32), self.scale(w_hat).detach()

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w_hat = self.standardise(weight)
        return TanhSign.apply(w_hat, self.k, self.t) * self.scale(w_hat)


class QSNNEdgeWeight(nn.Module):
    """8-bit weights of the first and last layer: 127 levels of max|w| per layer, straight-through."""

    levels = 127

    def extra_repr(self) -> str:
        return "bits=8"

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer codes in -127..127 and the layer's scale max|w| / 127 (for export and tests)."""
        m = weight.detach().abs().max().clamp(min=1e-8)
        return torch.round(weight.detach() / m * self.levels).to(torch.int32), m / self.levels

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


def quantize_membrane_tanh(u: torch.Tensor, bits: int, alpha: torch.Tensor | float | None = None) -> torch.Tensor:
    """Q-SNN's membrane quantizer: b-bit grid of alpha (default max|tanh u| over the tensor), STE round."""
    u = torch.tanh(u)
    if alpha is None:
        alpha = u.detach().abs().max().clamp(min=1e-8)
    levels = 2 ** (bits - 1) - 1
    scaled = torch.clamp(u / alpha, -1.0, 1.0) * levels
    return (torch.round(scaled).detach() + (scaled - scaled.detach())) * alpha / levels


class QSNNLIFNode(neuron.LIFNode):
    """Q-SNN's LIF: u_t = 0.5 u_hat_{t-1} + x_t, triangle surrogate, hard reset, then b-bit membrane.

    Records the mean firing rate of its last forward pass (with gradient) in `last_rate`.
    The membrane scale: in training, alpha = max|tanh u| of the tensor at that timestep (the paper),
    and the buffer `alpha` follows it (exponential moving average, ALPHA_MOMENTUM; the first update
    copies it); in eval the buffer is used, so a sample's spikes do not depend on its batch.
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
        # the frozen membrane scale for eval and export (see the class docstring); 1.0 = tanh's range until trained
        self.register_buffer("alpha", torch.tensor(1.0))
        self.register_buffer("alpha_initialised", torch.tensor(False))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", membrane_bits={self.bits}"

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # checkpoints written before alpha became a buffer lack it: keep alpha = 1.0 (not initialised)
        for key in ("alpha", "alpha_initialised"):
            if prefix + key not in state_dict:
                state_dict[prefix + key] = getattr(self, key).detach().clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def membrane_scale(self, u: torch.Tensor) -> torch.Tensor:
        """alpha for this step: training: max|tanh u| (and the running buffer is updated); eval: the buffer."""
        if not self.training:
            return self.alpha.to(u.dtype)
        batch_alpha = torch.tanh(u.detach()).abs().max().clamp(min=1e-8)
        with torch.no_grad():
            if bool(self.alpha_initialised):
                self.alpha.mul_(1.0 - ALPHA_MOMENTUM).add_(ALPHA_MOMENTUM * batch_alpha.to(self.alpha.dtype))
            else:
                self.alpha.copy_(batch_alpha)
                self.alpha_initialised.fill_(True)
        return batch_alpha

    def single_step_functional_forward(self, inputs, states, **kwargs):
        x = inputs[0]
        v = states[0]
        if not isinstance(v, torch.Tensor):
            v = torch.full_like(x, float(v))
        h = v * (1.0 - 1.0 / self.tau) + x
        spike = self.surrogate_function(h - self.v_threshold)
        v_next = (1.0 - spike) * h
        if self.bits is not None:
            v_next = quantize_membrane_tanh(v_next, self.bits, self.membrane_scale(v_next))
        return (spike,), (v_next, *states[1:])

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        return base.MemoryModule.multi_step_functional_forward(self, inputs, states, **kwargs)

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        spikes = super().multi_step_forward(x_seq, *args, **kwargs)
        self.last_rate = spikes.mean()
        return spikes


class QSNNQuantizer(QuantizerType):
    """Binary hidden weights, 8-bit edges, tanh-quantized membranes, per-timestep cross-entropy
    and the firing-rate regulariser (rate_layers)."""

    name = "qsnn"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits == 1:
            return QSNNBinaryWeight(self.profile.check_options(ctx.options)["affine"], ctx.out_channels)
        if bits == 8:
            return QSNNEdgeWeight()
        raise ValueError(f"quantizer 'qsnn' cannot take weight bits {bits}; accepted: 1 (hidden layers), 8 (first and last)")

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return QSNNLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        for module in model.modules():
            if isinstance(module, QSNNBinaryWeight):
                module.set_epoch(epoch, epochs)

    def classification_loss(self, logits_seq: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(1/T) sum_t CE(o_t, y): the per-timestep cross-entropy of the authors' proposedLoss."""
        steps = logits_seq.shape[0]
        return F.cross_entropy(logits_seq.flatten(0, 1), targets.repeat(steps))

    def loss_terms(self, model, logits_seq, targets, inputs):
        """The spike half of WS-DR: RATE_LAMBDA mean_l (r_l - 0.5)^2 over rate_layers(model)."""
        rates = [n.last_rate for n in rate_layers(model) if n.last_rate is not None]
        if not rates:
            return None
        return RATE_LAMBDA * torch.stack([(r - RATE_TARGET) ** 2 for r in rates]).mean()


def rate_layers(model: nn.Module) -> list[QSNNLIFNode]:
    """The LIF layers whose firing rate WS-DR regularises (module docstring): with option `inner`,
    fire_rate[1:-1] as in the authors' code when that leaves a layer (three or more LIF layers),
    else every LIF layer; with `all`, every LIF layer."""
    neurons = [n for n in model.neurons if isinstance(n, QSNNLIFNode)]
    options = get_profile(QSNNQuantizer.name).check_options(model.candidate.quantizer_options)
    if options["rate_layers"] == "inner" and len(neurons) >= 3:
        return neurons[1:-1]
    return neurons
