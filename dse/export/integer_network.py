"""The integer description of a trained network (docs/integer-semantics.md), shared by every integer consumer.

npz export, .mem/.coe weight memories, the integer reference simulation (dse/integer_sim.py) and
the Verilog export all read one IntegerNetwork: per weight layer the integer weight codes q, the
per-output-channel scale s, the multiplier M = round(s * in_step / step * 2^F), the threshold in
membrane LSBs, the leak shift k (tau = 2^k) and the membrane width; the added forms (TTQ's two multipliers,
TaWQ's per-timestep codes and multipliers, Q-SNN's staircase thresholds, MFP's reset-free integrator) add
fields with defaults (`weight_form`, `neuron`, ...). `integer_network(model, ...)` builds it from a trained
SpikingNet and refuses (UserError, one line) what has no exact integer form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from dse.errors import UserError

MULTIPLIER_BITS = 18  # one DSP48E1 B port (signed): the `auto` scale_bits keep every M below 2^17
MAX_SCALE_BITS = 62
TWOS_COMPLEMENT = "twos_complement"  # stored k-bit word is the code q in two's complement
ODD_LEVELS = "odd_levels"  # stored k-bit unsigned j stands for q = 2j - (2^k - 1) (1-bit sign, sigmoid levels)
ENCODINGS = (TWOS_COMPLEMENT, ODD_LEVELS)

# Quantization step of the network input per data set: digits pixels are k/16 x INPUT_GAIN (4), i.e. k/4.
INPUT_STEPS = {"digits": 0.25}
EXPORTABLE_QUANTIZERS = "uniform (any weight bits), ternary (twn, ttq), sigmoid, tawq, qsnn, mfp"

# How a layer's weights enter the integer current I (docs/integer-semantics.md):
SCALED = "scaled"  # I = M_i sum_j q_ij x_j (codes x one multiplier per output channel)
SIGN_SCALES = "sign_scales"  # TTQ: I = M_i acc+_i - Mn_i acc-_i (positive codes use M, negative codes Mn)
PER_TIMESTEP = "per_timestep"  # TaWQ: I(t) = M_ti sum_j q_tij x_j (a code set and multipliers per timestep)
WEIGHT_FORMS = (SCALED, SIGN_SCALES, PER_TIMESTEP)
# The neuron of a spiking layer:
LIF = "lif"  # fixed-point LIF, b-bit membrane, leak shift k, hard reset (FixedPointLIFNode)
QSNN = "qsnn"  # Q-SNN: membrane state j in [-L, L], staircase of integer thresholds (QSNNLIFNode, frozen alpha)
MFP = "mfp"  # MFP: reset-free leaky integrator V_t = (2^k - 1) V_{t-1} + 2^(k t) I_t (ParallelResetFreeNeuron)
NEURONS = (LIF, QSNN, MFP)
STATIC_INPUT_MAX_CODE = 255  # layer 0 of a static-input net reads 8-bit unsigned codes (search_spaces/candidate.py)


@dataclass
class IntegerLayer:
    """One weight layer in integer form; spiking layers carry the membrane parameters, the readout does not."""

    name: str
    kind: str  # "linear" | "conv"
    codes: np.ndarray  # integer weight codes q, [out, in] or [out, in_c, k, k]
    weight_bits: int
    weight_encoding: str  # TWOS_COMPLEMENT | ODD_LEVELS (how a code is stored in weight_bits bits)
    scale: np.ndarray  # float64 [out]: the weight is q * scale
    in_step: float  # value of one input LSB (layer 0: the input step; spikes: 1; after avg pool: 1/4)
    scale_bits: int  # F: fractional bits of the multiplier
    multiplier: np.ndarray  # int64 [out]: M = round(scale * in_step / step * 2^F) (readout: step = 1)
    spiking: bool
    membrane_bits: int | None = None  # b (spiking layers)
    threshold_lsb: int | None = None  # 2^(b-2)
    leak_shift: int | None = None  # k with tau = 2^k
    membrane_step: float | None = None  # v_threshold / 2^(b-2): value of one membrane LSB
    kernel_size: int = 1
    padding: int = 0
    pool_after: str | None = None  # "max" (OR of spikes) | "avg" (sum of 4 spikes, next in_step / 4) | None
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    parallelism: int = 1
    # ---- added for TTQ, TaWQ, Q-SNN and MFP (defaults = the plain form above) ----
    weight_form: str = SCALED  # SCALED | SIGN_SCALES | PER_TIMESTEP
    scale_neg: np.ndarray | None = None  # SIGN_SCALES: float64 [out], a negative code q weighs q * scale_neg
    multiplier_neg: np.ndarray | None = None  # SIGN_SCALES: int64 [out], Mn = round(scale_neg * in_step / step * 2^F)
    codes_per_timestep: np.ndarray | None = None  # PER_TIMESTEP: [T, out, ...] codes; `codes` is timestep 0's
    scale_per_timestep: np.ndarray | None = None  # PER_TIMESTEP: float64 [T, out]; `scale` is timestep 0's
    multiplier_per_timestep: np.ndarray | None = None  # PER_TIMESTEP: int64 [T, out]; `multiplier` is timestep 0's
    neuron: str = LIF  # LIF | QSNN | MFP (spiking layers; the readout keeps the default and ignores it)
    threshold_int: int | None = None  # QSNN: spike iff H >= threshold_int = ceil(v_threshold 2^F)
    leak_multiplier: int | None = None  # QSNN: Ma = round(alpha / L (1 - 1/tau) 2^F), H = j Ma + I
    level_thresholds: np.ndarray | None = None  # QSNN: int64 [2L], ascending; next j = -L + #{n: H >= B_n}
    membrane_alpha: float | None = None  # QSNN: the frozen alpha of the tanh membrane quantizer
    threshold_per_timestep: np.ndarray | None = None  # MFP: int64 [T], spike_t iff V_t >= ceil(theta 2^(F + k(t+1)))
    state_bits: int | None = None  # MFP: signed width of V for T steps; QSNN: b (j in [-L, L]); LIF: None (= b)

    @property
    def standard_form(self) -> bool:
        """True for the plain form (codes x M, LIF neuron) that consumers without the added forms can map."""
        return self.weight_form == SCALED and (not self.spiking or self.neuron == LIF)

    @property
    def out_channels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.codes.shape[1:]))

    @property
    def multiplier_bits(self) -> int:
        """Signed width that holds every M of the layer (TTQ: Mn too; TaWQ: every timestep's)."""
        values = [int(m) for m in self.all_multipliers().tolist()]
        return int(max(abs(v) for v in values).bit_length() + 1)

    def all_multipliers(self) -> np.ndarray:
        """Every multiplier the layer uses, flat (M; TTQ: M and Mn; TaWQ: M of every timestep)."""
        parts = [self.multiplier.reshape(-1)]
        if self.multiplier_neg is not None:
            parts.append(self.multiplier_neg.reshape(-1))
        if self.multiplier_per_timestep is not None:
            parts.append(self.multiplier_per_timestep.reshape(-1))
        return np.concatenate(parts)


@dataclass
class IntegerNetwork:
    """A whole network in integer form: layers in order, T, the input shape and step."""

    layers: list[IntegerLayer]
    timesteps: int
    input_shape: tuple[int, int, int]
    input_step: float
    num_classes: int
    family: str
    tau: float
    v_threshold: float
    candidate: dict[str, Any] = field(default_factory=dict)
    input_kind: str = "static"  # "static": layer 0 reads the same codes at every step; "events": one 0/1 frame per step

    @property
    def spiking_layers(self) -> list[IntegerLayer]:
        return [layer for layer in self.layers if layer.spiking]

    @property
    def standard_form(self) -> bool:
        """True when every layer has the plain form (codes x M, LIF): see IntegerLayer.standard_form."""
        return all(layer.standard_form for layer in self.layers)


def require_standard_form(net: IntegerNetwork, what: str) -> None:
    """UserError (one line) for a consumer that maps only codes x M with LIF neurons (e.g. a hardware template)."""
    for layer in net.layers:
        if not layer.standard_form:
            form = layer.weight_form if layer.weight_form != SCALED else f"{layer.neuron} neuron"
            raise UserError(f"{what} maps codes x one multiplier with LIF neurons only; {layer.name} has the "
                            f"{form} form (docs/integer-semantics.md)")


def input_step_of(dataset: str) -> float:
    """Value of one LSB of the network input for a data set: the table, else the data set's own in_step."""
    if dataset in INPUT_STEPS:
        return INPUT_STEPS[dataset]
    from dse.training.data import load_dataset

    try:
        step = getattr(load_dataset(dataset), "in_step", None)
    except (ValueError, UserError):
        step = None
    if step is None:
        raise UserError(f"no input quantization step is known for data set {dataset!r}; known: {', '.join(INPUT_STEPS)}")
    return float(step)


def smallest_int_dtype(values: np.ndarray) -> np.dtype:
    """The narrowest signed numpy integer type holding every value (int8 for ternary codes)."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dtype)
    raise ValueError(f"codes {lo}..{hi} do not fit int64")


def leak_shift_of(tau: float) -> int:
    """k with tau = 2^k; other tau have no shift-only integer leak."""
    k = math.log2(tau) if tau >= 1 else -1.0
    if tau < 1 or k != int(k):
        raise UserError(f"tau {tau:g} has no integer form; accepted: a power of two (1, 2, 4, 8, ...)")
    return int(k)


def multiplier(scale: float, in_step: float, step: float, scale_bits: int) -> int:
    """M = round_half_even(scale * in_step / step * 2^F), computed exactly on the floats' rational values."""
    return round(Fraction(scale) * Fraction(in_step) / Fraction(step) * 2**scale_bits)


def auto_scale_bits(scales: np.ndarray, in_step: float, step: float, bits: int = MULTIPLIER_BITS) -> int:
    """Largest F >= 0 with every M below 2^(bits-1) (a signed `bits`-wide multiplier port)."""
    largest = max(abs(Fraction(float(s))) for s in scales) * Fraction(in_step) / Fraction(step)
    limit = 2 ** (bits - 1) - 1
    f = MAX_SCALE_BITS
    while f > 0 and round(largest * 2**f) > limit:
        f -= 1
    return f


def parse_scale_bits(text: str | int) -> int | str:
    """`--scale-bits`: an integer 0..62 or `auto` (largest F per layer with M in 18 signed bits)."""
    if isinstance(text, int) or str(text).strip().lstrip("-").isdigit():
        value = int(text)
        if not 0 <= value <= MAX_SCALE_BITS:
            raise UserError(f"scale bits must be 0..{MAX_SCALE_BITS} or 'auto', got {value}")
        return value
    if str(text).strip().lower() == "auto":
        return "auto"
    raise UserError(f"scale bits must be an integer 0..{MAX_SCALE_BITS} or 'auto', got {text!r}")


# ---------------------------------------------------------------- from a trained model


def weight_codes(model: Any, index: int) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Integer codes, per-channel float64 scale, bits and encoding of weight layer `index`.

    Refuses weights that do not reduce exactly to codes x one scale per output channel.
    """
    import torch
    from torch import nn

    from dse.quantizers.sigmoid import SigmoidWeightQuantizer
    from dse.quantizers.ternary import TTQWeightQuantizer, TWNWeightQuantizer
    from dse.quantizers.uniform import UniformWeightQuantizer

    layer = model.weight_layers[index]
    quantizer = layer.quantizer
    weight = layer.weight.detach()
    name = f"layer{index}"
    out = weight.shape[0]
    if isinstance(quantizer, nn.Identity):
        raise UserError(
            f"{name} has full-precision (fp) weights: no integer form; accepted: integer weight bits "
            f"({EXPORTABLE_QUANTIZERS})"
        )
    if isinstance(quantizer, UniformWeightQuantizer):
        q, s = quantizer.codes(weight)
        bits, encoding = quantizer.bits, ODD_LEVELS if quantizer.bits == 1 else TWOS_COMPLEMENT
        scale = s.flatten().to(torch.float64)
    elif isinstance(quantizer, TWNWeightQuantizer):
        q, alpha = quantizer.codes(weight)
        bits, encoding = 2, TWOS_COMPLEMENT
        scale = alpha.to(torch.float64).expand(out).clone()
    elif isinstance(quantizer, SigmoidWeightQuantizer):
        j, _levels = quantizer.codes(weight)
        q = 2 * j - (2**quantizer.bits - 1)
        bits, encoding = quantizer.bits, ODD_LEVELS
        scale = quantizer.alpha.detach().to(torch.float64).expand(out).clone()
    elif isinstance(quantizer, TTQWeightQuantizer):
        raise UserError(
            f"{name}: ternary 'ttq' weights have separate positive and negative scales (W_p, W_n), not codes x one "
            f"scale; integer export accepts {EXPORTABLE_QUANTIZERS}"
        )
    else:
        raise UserError(
            f"{name}: {type(quantizer).__name__} weights have no codes x per-channel-scale form; integer export "
            f"accepts {EXPORTABLE_QUANTIZERS}"
        )
    q = q.detach().cpu().numpy().astype(np.int64)
    scale = scale.detach().cpu().numpy().astype(np.float64)
    _check_exact(model, index, q, scale)
    return q.astype(smallest_int_dtype(q)), scale, int(bits), encoding


def _forward_weights(model: Any, index: int) -> np.ndarray:
    """The weights weight layer `index` uses in its eval forward, as float64 (its training mode is restored)."""
    import torch

    layer = model.weight_layers[index]
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            return layer.quantized_weight().detach().cpu().double().numpy()
    finally:
        layer.train(was_training)


def _check_exact(model: Any, index: int, q: np.ndarray, scale: np.ndarray) -> None:
    """The model's own forward weights must equal q x s (to float rounding): else the codes are not its weights."""
    used = _forward_weights(model, index)
    if used.shape != q.shape:
        raise UserError(
            f"layer{index}: the quantizer gives weights of shape {tuple(used.shape)} (one set per timestep?), "
            f"not one set {tuple(q.shape)}; integer export accepts {EXPORTABLE_QUANTIZERS}"
        )
    expected = q * scale.reshape(-1, *([1] * (q.ndim - 1)))
    tol = 1e-6 * max(float(np.abs(expected).max()), 1e-30)
    if not np.allclose(used, expected, rtol=1e-6, atol=tol):
        raise UserError(f"layer{index}: the model's weights are not its integer codes x scale; cannot export it in integer form")


def _neuron_params(model: Any, index: int) -> tuple[int, int]:
    """Membrane bits and leak shift of fixed-point LIF layer `index`; refuses neurons without the integer form."""
    from dse.training.neurons import FixedPointLIFNode

    neuron = model.neurons[index]
    name = f"layer{index}"
    if type(neuron) is not FixedPointLIFNode:
        raise UserError(
            f"{name}: neuron {type(neuron).__name__} is not the fixed-point LIF of docs/integer-semantics.md; "
            f"integer export accepts {EXPORTABLE_QUANTIZERS}"
        )
    if neuron.bits is None:
        raise UserError(
            f"{name} has a full-precision (fp) membrane: no integer form; accepted: membrane bits 2..16"
        )
    if float(neuron.v_reset) != 0.0 or not neuron.decay_input:
        raise UserError(f"{name}: only hard reset to 0 with decay_input has the integer form")
    return int(neuron.bits), leak_shift_of(float(neuron.tau))


# ---------------------------------------------------------------- the added forms


@dataclass
class _Weights:
    """One weight layer's integer weights in any form (internal to integer_network)."""

    codes: np.ndarray  # [out, ...] (TaWQ: timestep 0)
    scale: np.ndarray  # [out]
    bits: int
    encoding: str
    form: str = SCALED
    scale_neg: np.ndarray | None = None
    codes_per_timestep: np.ndarray | None = None  # [T, out, ...]
    scale_per_timestep: np.ndarray | None = None  # [T, out]

    def all_scales(self) -> np.ndarray:
        """Every scale that becomes a multiplier (for the auto F); TaWQ rows without a nonzero code are left out."""
        if self.form == PER_TIMESTEP:
            return self.scale_per_timestep.reshape(-1)
        if self.form == SIGN_SCALES:
            return np.concatenate([self.scale, self.scale_neg])
        return self.scale


def _unsigned_sign_scales(q: np.ndarray, w_p: np.ndarray, w_n: np.ndarray, name: str
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TTQ's codes and scales with both scales >= 0 (the template's M and Mn are unsigned). Training can
    drive both learned scales negative; then q W_p (q > 0) and q W_n (q < 0) are the same weights as
    -q (-W_n) and -q (-W_p): the codes flip and the scales swap. Scales of opposite signs give every
    nonzero weight one sign with two magnitudes, which sign codes with two unsigned multipliers cannot
    hold: refused."""
    if (w_p >= 0).all() and (w_n >= 0).all():
        return q, w_p, w_n
    if (w_p <= 0).all() and (w_n <= 0).all():
        return -q, -w_n, -w_p
    raise UserError(f"{name}: ternary 'ttq' scales of opposite signs (W_p {float(w_p.reshape(-1)[0]):.4g}, "
                    f"W_n {float(w_n.reshape(-1)[0]):.4g}); the integer form takes two scales of one sign")


def _layer_weights(model: Any, index: int) -> _Weights:
    """The integer weights of layer `index`: codes x scale (weight_codes), TTQ's two scales, TaWQ's per timestep."""
    import torch

    from dse.quantizers.qsnn import QSNNBinaryWeight, QSNNEdgeWeight
    from dse.quantizers.tawq import TaWQWeightQuantizer
    from dse.quantizers.ternary import TTQWeightQuantizer

    layer = model.weight_layers[index]
    quantizer = layer.quantizer
    weight = layer.weight.detach()
    out = weight.shape[0]
    if isinstance(quantizer, TTQWeightQuantizer):
        quantizer._init_scales(weight)  # what its first forward does (W_p = W_n = TWN alpha)
        pos, neg = quantizer.masks(weight)
        q = (pos - neg).cpu().numpy().astype(np.int64)
        w_p = np.full(out, float(quantizer.w_p.detach().double()), dtype=np.float64)
        w_n = np.full(out, float(quantizer.w_n.detach().double()), dtype=np.float64)
        _check_exact_values(model, index, np.where(q > 0, q * w_p.reshape(-1, *[1] * (q.ndim - 1)),
                                                   q * w_n.reshape(-1, *[1] * (q.ndim - 1))))
        q, w_p, w_n = _unsigned_sign_scales(q, w_p, w_n, f"layer{index}")
        return _Weights(q.astype(np.int8), w_p, 2, TWOS_COMPLEMENT, SIGN_SCALES, scale_neg=w_n)
    if isinstance(quantizer, TaWQWeightQuantizer):
        s, scale = quantizer.codes(weight)
        q = s.cpu().numpy().astype(np.int64)  # [T, out, ...]
        scale = scale.to(torch.float64).reshape(q.shape[0], out).cpu().numpy()
        # a channel without a nonzero code at a timestep contributes nothing: its scale (1 / 1e-6) is dropped
        empty = ~np.any(q.reshape(q.shape[0], out, -1) != 0, axis=2)
        scale = np.where(empty, 0.0, scale)
        _check_exact_values(model, index, q * scale.reshape(*scale.shape, *[1] * (q.ndim - 2)))
        return _Weights(q[0].astype(np.int8), scale[0].copy(), 2, TWOS_COMPLEMENT, PER_TIMESTEP,
                        codes_per_timestep=q.astype(np.int8), scale_per_timestep=scale)
    if isinstance(quantizer, QSNNBinaryWeight):
        c, s = quantizer.codes(weight)
        q = c.cpu().numpy().astype(np.int64)
        scale = s.to(torch.float64).reshape(out).cpu().numpy()
        _check_exact(model, index, q, scale)
        return _Weights(q.astype(np.int8), scale, 1, ODD_LEVELS)
    if isinstance(quantizer, QSNNEdgeWeight):
        c, s = quantizer.codes(weight)
        q = c.cpu().numpy().astype(np.int64)
        scale = np.full(out, float(s.double()), dtype=np.float64)
        _check_exact(model, index, q, scale)
        return _Weights(q.astype(smallest_int_dtype(q)), scale, 8, TWOS_COMPLEMENT)
    codes, scale, bits, encoding = weight_codes(model, index)
    return _Weights(codes, scale, bits, encoding)


def _check_exact_values(model: Any, index: int, expected: np.ndarray) -> None:
    """The model's own (eval) forward weights must equal `expected` to float rounding."""
    used = _forward_weights(model, index)
    tol = 1e-6 * max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    if used.shape != expected.shape or not np.allclose(used, expected, rtol=1e-6, atol=tol):
        raise UserError(f"layer{index}: the model's weights are not its integer codes x scales; cannot export it in integer form")


def qsnn_level_thresholds(alpha: float, bits: int, scale_bits: int) -> np.ndarray:
    """B_n, n = -L+1 .. L (L = 2^(b-1) - 1): the smallest integer H (value H / 2^F) whose quantized tanh level is >= n.

    Level(h) = round(clamp(tanh(h) / alpha, -1, 1) L) >= n  <=>  tanh(h) > alpha (n - 1/2) / L  <=>  h > atanh(that),
    strictly: tanh of a nonzero rational is irrational, so no H / 2^F lies on a boundary (no rounding tie).
    B_n = floor(atanh(alpha (n - 1/2) / L) 2^F) + 1, evaluated with mpmath at F + 96 bits.
    """
    import mpmath

    levels = 2 ** (bits - 1) - 1
    a = Fraction(alpha)
    out = []
    with mpmath.workprec(scale_bits + 128):
        scale = mpmath.mpf(2) ** scale_bits
        for n in range(-levels + 1, levels + 1):
            c = a * (2 * n - 1) / (2 * levels)
            arg = mpmath.mpf(c.numerator) / c.denominator
            out.append(int(mpmath.floor(mpmath.atanh(arg) * scale)) + 1)
    return np.array(out, dtype=np.int64)


def mfp_state_bits(max_current: int, leak_shift: int, timesteps: int) -> int:
    """Signed width of V_t = sum_{i<=t} (2^k - 1)^(t-i) 2^(k i) I_i for t < T with |I| <= max_current:
    |V_t| <= max_current (2^(k(t+1)) - (2^k - 1)^(t+1)) < max_current 2^(k T), so bitlen(max_current) + k T + 1."""
    return int(max_current).bit_length() + leak_shift * timesteps + 1


def _neuron_fields(model: Any, index: int, candidate: Any) -> dict[str, Any]:
    """Neuron kind, membrane parameters and the unit `step` of H for spiking layer `index` (M = s in_step / step 2^F)."""
    from dse.quantizers.mfp import ParallelResetFreeNeuron
    from dse.quantizers.qsnn import QSNNLIFNode
    from dse.quantizers.tawq import TaWQShiftedLIFNode

    neuron = model.neurons[index]
    name = f"layer{index}"
    if isinstance(neuron, TaWQShiftedLIFNode):
        raise UserError(f"{name}: TaWQ's per-channel shift (affine: scale_shift) has no exact integer form (with a hard "
                        "reset to 0 it is not a threshold shift, and the template has no bias input); accepted: "
                        "affine scale or none (dse/quantizers/tawq.py)")
    if isinstance(neuron, QSNNLIFNode):
        if neuron.bits is None:
            raise UserError(f"{name} has a full-precision (fp) membrane: no integer form; accepted: membrane bits 2..16")
        if float(neuron.v_reset) != 0.0 or neuron.decay_input:
            raise UserError(f"{name}: the Q-SNN neuron has the integer form with hard reset to 0 and no input decay only")
        alpha = float(neuron.alpha.detach().double())
        if not 0.0 < alpha <= 1.0:
            raise UserError(f"{name}: the Q-SNN membrane scale alpha {alpha:g} is not in (0, 1]")
        bits = int(neuron.bits)
        return {"neuron": QSNN, "membrane_bits": bits, "state_bits": bits, "membrane_alpha": alpha,
                "membrane_step": alpha / (2 ** (bits - 1) - 1), "step": 1.0, "tau": float(neuron.tau)}
    if isinstance(neuron, ParallelResetFreeNeuron):
        return {"neuron": MFP, "leak_shift": leak_shift_of(float(neuron.tau)), "step": 1.0}
    bits, k = _neuron_params(model, index)
    step = float(candidate.v_threshold) / 2 ** (bits - 2)
    return {"neuron": LIF, "membrane_bits": bits, "threshold_lsb": 2 ** (bits - 2), "leak_shift": k,
            "membrane_step": step, "step": step}


def _multipliers(scales: np.ndarray, in_step: float, step: float, f: int, name: str) -> np.ndarray:
    m = np.array([multiplier(float(s), in_step, step, f) for s in np.asarray(scales).reshape(-1)], dtype=object)
    if m.size and max(abs(int(v)) for v in m) >= 2**63:
        raise UserError(f"{name}: multipliers overflow int64 at scale bits {f}; choose fewer --scale-bits")
    return m.astype(np.int64).reshape(np.asarray(scales).shape)


def _auto_f(scales: np.ndarray, in_step: float, step: float) -> int:
    nonzero = np.asarray(scales, dtype=np.float64).reshape(-1)
    nonzero = nonzero[nonzero != 0]
    return auto_scale_bits(nonzero, in_step, step) if nonzero.size else MAX_SCALE_BITS


def integer_network(model: Any, in_step: float, scale_bits: int | str = "auto") -> IntegerNetwork:
    """The integer form of a trained SpikingNet whose input LSB is `in_step`.

    scale_bits: F for every layer (32 reproduces the float64 model spike for spike), or 'auto':
    per layer the largest F whose multipliers fit 18 signed bits (hardware; docs/export.md).
    """
    from cost_models.network import layer_specs

    candidate = model.candidate
    specs = layer_specs(candidate)
    if isinstance(scale_bits, str) and scale_bits != "auto":
        scale_bits = parse_scale_bits(scale_bits)
    timesteps = int(candidate.timesteps)
    events = getattr(candidate, "input_kind", "static") == "events"
    layers: list[IntegerLayer] = []
    step_in = float(in_step)
    max_in = 1 if events else STATIC_INPUT_MAX_CODE  # largest |input code| of the layer (for MFP's state width)
    for i, spec in enumerate(specs):
        neuron = _neuron_fields(model, i, candidate) if spec.spiking else {"step": 1.0}
        step = neuron.pop("step")
        tau = neuron.pop("tau", None)
        w = _layer_weights(model, i)
        leak_value = None
        if neuron.get("neuron") == QSNN:
            leak_value = Fraction(neuron["membrane_alpha"]) / (2 ** (neuron["membrane_bits"] - 1) - 1) \
                * (1 - 1 / Fraction(tau))
        if scale_bits == "auto":
            f = _auto_f(w.all_scales(), step_in, step)
            if leak_value is not None and leak_value != 0:
                limit = 2 ** (MULTIPLIER_BITS - 1) - 1
                f_leak = MAX_SCALE_BITS
                while f_leak > 0 and round(leak_value * 2**f_leak) > limit:
                    f_leak -= 1
                f = min(f, f_leak)
        else:
            f = int(scale_bits)
        fields: dict[str, Any] = {"weight_form": w.form}
        if w.form == PER_TIMESTEP:
            m_t = _multipliers(w.scale_per_timestep, step_in, step, f, f"layer{i}")
            fields.update(codes_per_timestep=w.codes_per_timestep, scale_per_timestep=w.scale_per_timestep,
                          multiplier_per_timestep=m_t)
            m = m_t[0].copy()
        else:
            m = _multipliers(w.scale, step_in, step, f, f"layer{i}")
        if w.form == SIGN_SCALES:
            fields.update(scale_neg=w.scale_neg, multiplier_neg=_multipliers(w.scale_neg, step_in, step, f, f"layer{i}"))
        if spec.spiking:
            fields.update(neuron)
            theta = Fraction(float(candidate.v_threshold))
            if neuron["neuron"] == QSNN:
                fields.update(
                    threshold_int=math.ceil(theta * 2**f), leak_multiplier=round(leak_value * 2**f),
                    level_thresholds=qsnn_level_thresholds(neuron["membrane_alpha"], neuron["membrane_bits"], f),
                )
            elif neuron["neuron"] == MFP:
                k = neuron["leak_shift"]
                thresholds = [math.ceil(theta * 2 ** (f + k * (t + 1))) for t in range(timesteps)]
                if max(thresholds) >= 2**63:
                    raise UserError(f"layer{i}: MFP thresholds overflow int64 at scale bits {f} and T {timesteps}; "
                                    "choose fewer --scale-bits")
                codes_all = w.codes_per_timestep if w.codes_per_timestep is not None else w.codes[None]
                max_abs_m = max(abs(int(v)) for v in m.reshape(-1).tolist() + (
                    fields["multiplier_neg"].tolist() if "multiplier_neg" in fields else []))
                max_current = int(np.prod(w.codes.shape[1:])) * int(np.abs(codes_all.astype(np.int64)).max(initial=0)) \
                    * max_in * max_abs_m
                fields.update(threshold_per_timestep=np.array(thresholds, dtype=np.int64),
                              state_bits=mfp_state_bits(max_current, k, timesteps))
        layers.append(IntegerLayer(
            name=spec.name, kind=spec.kind, codes=w.codes, weight_bits=w.bits, weight_encoding=w.encoding,
            scale=w.scale, in_step=step_in, scale_bits=f, multiplier=m.astype(np.int64), spiking=spec.spiking,
            kernel_size=spec.kernel_size, padding=spec.padding,
            pool_after=spec.pool_after, in_shape=tuple(spec.in_shape), out_shape=tuple(spec.out_shape),
            parallelism=spec.parallelism, **fields,
        ))
        if spec.spiking:
            step_in = 0.25 if spec.pool_after == "avg" else 1.0
            max_in = 4 if spec.pool_after == "avg" else 1
    return IntegerNetwork(
        layers=layers, timesteps=candidate.timesteps, input_shape=tuple(candidate.input_shape),
        input_step=float(in_step), num_classes=candidate.num_classes, family=candidate.family,
        tau=float(candidate.tau), v_threshold=float(candidate.v_threshold), candidate=candidate.to_dict(),
        input_kind=getattr(candidate, "input_kind", "static"),
    )
