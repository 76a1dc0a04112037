"""The integer description of a trained network (docs/integer-semantics.md), shared by every integer consumer.

npz export, .mem/.coe weight memories, the integer reference simulation (dse/integer_sim.py) and
the Verilog export all read one IntegerNetwork: per weight layer the integer weight codes q, the
per-output-channel scale s, the multiplier M = round(s * in_step / step * 2^F), the threshold in
membrane LSBs, the leak shift k (tau = 2^k) and the membrane width. `integer_network(model, ...)`
builds it from a trained SpikingNet and refuses (UserError, one line) what has no exact integer form.
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
EXPORTABLE_QUANTIZERS = "uniform (any weight bits), ternary with algorithm twn, sigmoid"


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

    @property
    def out_channels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.codes.shape[1:]))

    @property
    def multiplier_bits(self) -> int:
        """Signed width that holds every M of the layer."""
        return int(max(int(m) for m in self.multiplier.tolist()).bit_length() + 1)


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
    largest = max(Fraction(float(s)) for s in scales) * Fraction(in_step) / Fraction(step)
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


def _check_exact(model: Any, index: int, q: np.ndarray, scale: np.ndarray) -> None:
    """The model's own forward weights must equal q x s (to float rounding): else the codes are not its weights."""
    import torch

    layer = model.weight_layers[index]
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            used = layer.quantized_weight().detach().cpu().double().numpy()
    finally:
        layer.train(was_training)
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
    """Membrane bits and leak shift of spiking layer `index`; refuses neurons without the integer form."""
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
    layers: list[IntegerLayer] = []
    step_in = float(in_step)
    for i, spec in enumerate(specs):
        if spec.spiking:
            mbits, k = _neuron_params(model, i)
            step = float(candidate.v_threshold) / 2 ** (mbits - 2)
        else:
            mbits, k, step = None, None, 1.0
        codes, scale, bits, encoding = weight_codes(model, i)
        f = auto_scale_bits(scale, step_in, step) if scale_bits == "auto" else int(scale_bits)
        m = np.array([multiplier(float(s), step_in, step, f) for s in scale], dtype=object)
        if max(abs(int(v)) for v in m) >= 2**63:
            raise UserError(f"layer{i}: multipliers overflow int64 at scale bits {f}; choose fewer --scale-bits")
        layers.append(IntegerLayer(
            name=spec.name, kind=spec.kind, codes=codes, weight_bits=bits, weight_encoding=encoding,
            scale=scale, in_step=step_in, scale_bits=f, multiplier=m.astype(np.int64), spiking=spec.spiking,
            membrane_bits=mbits, threshold_lsb=None if mbits is None else 2 ** (mbits - 2), leak_shift=k,
            membrane_step=None if mbits is None else step, kernel_size=spec.kernel_size, padding=spec.padding,
            pool_after=spec.pool_after, in_shape=tuple(spec.in_shape), out_shape=tuple(spec.out_shape),
            parallelism=spec.parallelism,
        ))
        if spec.spiking:
            step_in = 0.25 if spec.pool_after == "avg" else 1.0
    return IntegerNetwork(
        layers=layers, timesteps=candidate.timesteps, input_shape=tuple(candidate.input_shape),
        input_step=float(in_step), num_classes=candidate.num_classes, family=candidate.family,
        tau=float(candidate.tau), v_threshold=float(candidate.v_threshold), candidate=candidate.to_dict(),
        input_kind=getattr(candidate, "input_kind", "static"),
    )
