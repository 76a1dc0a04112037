"""`tawq`: Temporal-adaptive Weight Quantization (TaWQ, arXiv 2511.17567, 2025).

Each ternary layer's latent weight is standardised, w_hat = (W - mean W) / std W (gradients flow
through mean and std), and fed as a constant input to a ternary "weight neuron" (v_0 = 0, tau = 2,
threshold V = 0.25): v_t = v_{t-1} + (w_hat - v_{t-1}) / tau, s_t = 1/2 [sgn(v_t - V) + sgn(v_t + V)]
in {-1, 0, +1}, hard reset v_t <- (1 - |stopgrad s_t|) v_t. Timestep t of the layer uses
W_q,t = s_t / (mean over fan-in of |s_t| + 1e-6): one scale per timestep and output channel.
Large weights fire at every step; small ones fire at some steps only, so a weight's magnitude is
rate-coded in time and the weights differ from timestep to timestep. Backward: each sgn has the
sigmoid surrogate a sig(a x)(1 - sig(a x)), a = 4, times the 1/2 of the fire function. No extra
loss term; membranes use the project's fixed-point LIF neuron (dse/training/neurons.py).

FOLLOWS THE AUTHORS' CODE (TheBrainLab/TaWQ-ZhangHan, cifar100/tawq.py `QConv2d`, `TaWQ`,
`BaseNode`, `Sigmoid`; imagenet/tawq.py the same), written independently:
- the standardisation, the weight-LIF (tau 2, V 0.25, hard reset, detached), the per-step
  channel scale 1 / (mean |s_t| + 1e-6), the sigmoid surrogate a = 4;
- edge layers (option `edge_bits`, default 8): in cifar100/spikingformer_tawq.py the stem conv
  (`AConv3x3_stem`) is a plain nn.Conv2d and the head a plain nn.Linear, i.e. full precision; only
  the inner convs are `QConv2d`. Here the first and the readout layer get 8-bit uniform weights
  (one set, per-channel max|w| / 127 scale, straight-through; the `uniform` type's quantizer): the
  nearest width with an integer form (full precision has none). `edge_bits: 2` makes them ternary
  per timestep like the hidden layers (this project's behaviour before issue 15). On a
  1-hidden-layer MLP both weight layers are edges, so with the default no layer is ternary.
- normalisation (option `affine`): every `QConv2d` of the authors is followed by nn.BatchNorm2d,
  which absorbs the unit magnitude of the paper's scale. This project's nets have no
  normalisation, so the paper's scale overdrove the next layer (MLP 64-128-128-10: 0.900 against
  0.970 with `scale: latent`).

Decisions and PROPOSALS (not shown by any source):
- Ties: the forward pass writes the fire function as [v > V] - [v < -V], which equals the paper's
  1/2 [sgn(v - V) + sgn(v + V)] except exactly at v = +-V, where sgn(0) = 0 would give 1/2.
  That keeps the weights strictly ternary.
- 8 bits for the edges (the paper keeps them fp; see above) with a max|w| scale.
- Option `affine` (PROPOSAL, the stand-in for the authors' batch norm): `scale` (default) gives
  each output channel c of a ternary layer a learned gain g_c = exp(l_c) g_0 (l_c learned, 0 at
  the start; g_0 = 1 / sqrt(fan_in) with `scale: paper`, which puts a layer's current at the
  magnitude of a Kaiming-initialised layer, and 1 with `scale: latent`), i.e. W_q,t,c = g_c s_t,c /
  mean|s_t,c|. Like batch norm's gamma folded at inference, the gain is part of the per-(t, c)
  scale, so it folds exactly into the multiplier M_tc at export. `scale_shift` adds a learned
  per-channel shift b_c to the current of each spiking layer (batch norm's beta; 0 at the start).
  The shift does NOT fold exactly into an integer threshold: with a hard reset to 0, u + b
  integrates like u' = u - b with threshold theta - b only if u' is reset to -b and starts at -b,
  and the template has neither per-channel reset values nor a bias input; so networks with a
  shift have no integer form: `dse export` refuses them in one line and hardware targets screen
  them before training (dse/hardware/verilog_template.py template_refusal). `none`: no affine
  (the paper's scale alone). Batch statistics (mean, variance) are not modelled.
- Storage encoding: T ternary codes of 2 bits per weight (storage_bits_per_weight = 2 T), read
  2 bits per weight per timestep. The sequence s_1..s_T is a deterministic, piecewise-constant
  function of w_hat, so a layer has only a handful of distinct sequences; an index into a
  per-layer table of sequences would need fewer bits (docs/quantizers.md counts them) but one
  table lookup per weight read, and the cost model's read accounting assumes the 2 T encoding.
  Edge layers store 8 bits per weight, one set.
- Option `scale`: `paper` (default, the formula above) or `latent` (PROPOSAL): W_q,t = s_t
  mean_c|W| / mean|s_t|, i.e. the paper's scale times the latent channel's mean |W| (detached).
- The multi-bit variant (mTaWQ) is not implemented: the stored arXiv page (2511.17567v1) holds
  only the author block and the abstract, the authors' code has no multi-bit weight neuron, and
  the one summary that names mTaWQ (sciencestack.ai) gives no formula.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dse.training.neurons import FixedPointLIFNode
from dse.quantizers._base import ChannelGainWeight, LayerContext, QuantizerType
from dse.quantizers.uniform import UniformWeightQuantizer

WEIGHT_NEURON_TAU = 2.0
WEIGHT_NEURON_THRESHOLD = 0.25
SURROGATE_ALPHA = 4.0
SCALE_EPS = 1e-6
SCALE_MODES = ("paper", "latent")
AFFINE_MODES = ("scale", "none", "scale_shift")
TERNARY_BITS = 2
EDGE_BITS = 8  # the first and readout layers' width with `edge_bits: 8`
EDGE_SCALE = "max"  # their per-channel scale: max|w| / 127 (no clipping: the nearest to the paper's fp)


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


class TaWQWeightQuantizer(ChannelGainWeight):
    """Latent weight [out, ...] -> per-timestep ternary weights [T, out, ...] with per-(t, channel) scale,
    times the learned per-channel gain of `affine` (scale, scale_shift)."""

    def __init__(self, timesteps: int, scale: str = "paper", affine: str = "none", out_channels: int | None = None) -> None:
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        if scale not in SCALE_MODES:
            raise ValueError(f"unknown scale {scale!r}; accepted: {', '.join(SCALE_MODES)}")
        if affine not in AFFINE_MODES:
            raise ValueError(f"unknown affine {affine!r}; accepted: {', '.join(AFFINE_MODES)}")
        super().__init__(affine, out_channels)  # the gain g_c = exp(l_c) g_0 of `affine` scale and scale_shift
        self.timesteps = timesteps
        self.scale_mode = scale

    def extra_repr(self) -> str:
        return (f"timesteps={self.timesteps}, tau={WEIGHT_NEURON_TAU}, threshold={WEIGHT_NEURON_THRESHOLD}, "
                f"scale={self.scale_mode}, affine={self.affine}")

    def gain(self, weight: torch.Tensor) -> torch.Tensor | None:
        """The per-channel gain g_c = exp(l_c) g_0 [out] (None without affine); g_0 = 1 / sqrt(fan_in) for `paper`."""
        gain = self.learned_gain()
        if gain is None:
            return None
        return gain * (1.0 / math.sqrt(weight[0].numel()) if self.scale_mode == "paper" else 1.0)

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ternary codes [T, out, ...] (int32) and the scales [T, out, 1, ...], gain included (export, tests)."""
        s = weight_neuron_spikes(standardise(weight.detach()), self.timesteps)
        return s.to(torch.int32), self._scale(s, weight).detach()

    def _scale(self, spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        fan_in_dims = tuple(range(2, spikes.dim()))
        scale = 1.0 / (spikes.abs().mean(dim=fan_in_dims, keepdim=True) + SCALE_EPS)
        channel = (1, -1, *([1] * (weight.dim() - 1)))
        if self.scale_mode == "latent":
            scale = scale * weight.detach().abs().flatten(1).mean(dim=1).view(channel)
        gain = self.gain(weight)
        if gain is not None:
            scale = scale * gain.view(channel)
        return scale

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        spikes = weight_neuron_spikes(standardise(weight), self.timesteps)
        return spikes * self._scale(spikes, weight)


class TaWQShiftedLIFNode(FixedPointLIFNode):
    """The fixed-point LIF with a learned per-channel shift b_c added to its input current
    (`affine: scale_shift`, batch norm's beta; PROPOSAL). It has no integer form (module docstring)."""

    def __init__(self, bits: int | None, out_channels: int, tau: float = 2.0, v_threshold: float = 1.0) -> None:
        super().__init__(bits, tau=tau, v_threshold=v_threshold)
        self.shift = nn.Parameter(torch.zeros(out_channels))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", shift=per channel ({self.shift.numel()})"

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        # x_seq [T, B, C] (linear) or [T, B, C, H, W] (conv): the shift is per channel C
        shift = self.shift.view(1, 1, -1, *([1] * (x_seq.dim() - 3)))
        return super().multi_step_forward(x_seq + shift, *args, **kwargs)


class TaWQQuantizer(QuantizerType):
    """Per-timestep ternary weights from a weight-LIF on the hidden layers, 8-bit edges, a per-channel
    affine (the batch-norm stand-in), fixed-point membranes."""

    name = "tawq"

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits == EDGE_BITS:  # the first and readout layers with edge_bits 8 (a hidden layer built by hand, too)
            return UniformWeightQuantizer(EDGE_BITS, ctx.out_channels, scale=EDGE_SCALE)
        if bits != TERNARY_BITS:
            raise ValueError(f"quantizer 'tawq' cannot take weight bits {bits}; accepted: 2 (ternary per timestep), "
                             f"8 (first and readout layer, option edge_bits)")
        options = self.profile.check_options(ctx.options)
        return TaWQWeightQuantizer(ctx.timesteps, options["scale"], options["affine"], ctx.out_channels)

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        if self.profile.check_options(ctx.options)["affine"] == "scale_shift":
            return TaWQShiftedLIFNode(membrane_bits, ctx.out_channels, tau=tau, v_threshold=v_threshold)
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)
