"""Stage 2 of the cost pipeline, counts: what one inference does and stores, before any hardware
or energy table. ACs (spike-driven accumulates), MACs (dense layer 0), neuron updates, and the
stored bits (weights, membranes / accumulators, scales). Exact for conv layers with zero padding
via a cached fan-out map. Reads LayerSpecs only (network.py); fpga.py and energy.py read these.

Definitions match SpikingJelly's SynOpCounter: a linear layer does nnz(input) x out_features
ACs; a conv layer does one AC per (nonzero input element, weight that touches it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cost_models.network import FP32_BITS, LayerSpec

SCALE_BITS = 16  # one fp16 scale per output channel of a quantized layer


@lru_cache(maxsize=1024)
def axis_fanout(n_in: int, kernel: int, padding: int) -> np.ndarray:
    """Per input index along one axis: how many stride-1 output positions read it."""
    n_out = n_in + 2 * padding - kernel + 1
    idx = np.arange(n_in)
    lo = np.maximum(idx + padding - kernel + 1, 0)
    hi = np.minimum(idx + padding, n_out - 1)
    counts = np.maximum(hi - lo + 1, 0).astype(np.int64)
    counts.setflags(write=False)
    return counts


@lru_cache(maxsize=1024)
def conv_fanout_map(h: int, w: int, kernel: int, padding: int) -> np.ndarray:
    """(H, W) map: output positions that use each input position (per output channel)."""
    m = np.outer(axis_fanout(h, kernel, padding), axis_fanout(w, kernel, padding))
    m.setflags(write=False)
    return m


def fanout_map(spec: LayerSpec) -> np.ndarray:
    """Fan-out of every input element (shape in_shape): weight uses it takes part in."""
    if spec.kind == "linear":
        return np.full(spec.in_shape, spec.out_channels, dtype=np.int64)
    c, h, w = spec.in_shape
    per_pos = conv_fanout_map(h, w, spec.kernel_size, spec.padding) * spec.out_channels
    return np.broadcast_to(per_pos, (c, h, w))


def mean_fanout(spec: LayerSpec) -> float:
    """Mean fan-out over input elements (used when only a total event count is known)."""
    if spec.kind == "linear":
        return float(spec.out_channels)
    _, h, w = spec.in_shape
    return float(mean_conv_fanout(h, w, spec.kernel_size, spec.padding)) * spec.out_channels


@lru_cache(maxsize=1024)
def mean_conv_fanout(h: int, w: int, kernel: int, padding: int) -> float:
    """Mean of conv_fanout_map(h, w, kernel, padding) (cached)."""
    return float(conv_fanout_map(h, w, kernel, padding).mean())


def dense_weight_uses(spec: LayerSpec) -> int:
    """Weight uses of one dense input presentation (one timestep): MACs per timestep."""
    if spec.kind == "linear":
        return spec.n_weights
    c, h, w = spec.in_shape
    k, p = spec.kernel_size, spec.padding
    return int(c * spec.out_channels * axis_fanout(h, k, p).sum() * axis_fanout(w, k, p).sum())


def count_acs(spec: LayerSpec, input_events: float | np.ndarray | None) -> float:
    """ACs per inference of a spike-input layer from its input events (summed over T).

    A float is a total event count (mean fan-out applies); an array of the input's shape (or
    its size, for a linear layer) gives exact per-position counts. None means zero events.
    Non-binary inputs (after avg pooling) count one AC per nonzero element and fan-out weight.
    """
    if input_events is None:
        return 0.0
    if isinstance(input_events, np.ndarray):
        events = np.asarray(input_events, dtype=np.float64)
        if spec.kind == "linear":
            if events.size != math.prod(spec.in_shape):
                raise ValueError(
                    f"{spec.name}: input_events has {events.size} elements, "
                    f"the layer input has {math.prod(spec.in_shape)}"
                )
            return float(events.sum()) * spec.out_channels
        if events.shape != spec.in_shape:
            if events.size != math.prod(spec.in_shape):
                raise ValueError(
                    f"{spec.name}: input_events shape {events.shape} does not match "
                    f"the layer input shape {spec.in_shape}"
                )
            events = events.reshape(spec.in_shape)
        _, h, w = spec.in_shape
        per_pos = conv_fanout_map(h, w, spec.kernel_size, spec.padding)
        return float((events.sum(axis=0) * per_pos).sum()) * spec.out_channels
    value = float(input_events)
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"{spec.name}: input_events must be a finite count >= 0, got {value}")
    return value * mean_fanout(spec)


def count_effective_acs(
    spec: LayerSpec,
    input_events: float | np.ndarray | None,
    nonzero_weight_fraction: float | None = None,
    nonzero_fanout: np.ndarray | None = None,
) -> float:
    """Effective ACs per inference: the synaptic events that meet a nonzero weight (NeuroBench's
    Effective_ACs, which counts only nonzero weights); docs/cost-models.md#effective-acs.

    - nonzero_fanout (per input element, nonzero weights an event there meets) with per-position
      events: exact, sum(events x nonzero_fanout); with a total event count: total x its mean.
    - else nonzero_weight_fraction f: f x count_acs() (the mean fraction times events x fan-out;
      exact when the zeros are spread evenly over the fan-outs the events hit).
    - neither: count_acs(), the dense count (every weight taken as nonzero).
    """
    if nonzero_fanout is None:
        dense = count_acs(spec, input_events)
        if nonzero_weight_fraction is None:
            return dense
        f = float(nonzero_weight_fraction)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"{spec.name}: nonzero_weight_fraction must be in [0, 1], got {f}")
        return f * dense
    if input_events is None:
        return 0.0
    fanout = np.asarray(nonzero_fanout, dtype=np.float64)
    if fanout.size != math.prod(spec.in_shape):
        raise ValueError(
            f"{spec.name}: nonzero_fanout has {fanout.size} elements, the layer input has {math.prod(spec.in_shape)}"
        )
    fanout = fanout.reshape(spec.in_shape)
    if not np.all(np.isfinite(fanout)) or np.any(fanout < 0) or np.any(fanout > fanout_map(spec) + 1e-9):
        raise ValueError(f"{spec.name}: nonzero_fanout must lie between 0 and the layer's fan-out per input element")
    if isinstance(input_events, np.ndarray):
        count_acs(spec, input_events)  # the same shape checks as the dense count
        events = np.asarray(input_events, dtype=np.float64).reshape(spec.in_shape)
        return float((events * fanout).sum())
    value = float(input_events)
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"{spec.name}: input_events must be a finite count >= 0, got {value}")
    return value * float(fanout.mean())


def count_macs(spec: LayerSpec) -> int:
    """MACs per inference of the dense-input layer 0: T x weight uses per presentation."""
    if spec.input_is_spike:
        return 0
    return spec.timesteps * dense_weight_uses(spec)


NEURON_UPDATE_OPS_STATEFUL = 3  # leak, threshold compare, reset (docs/cost-models.md#neuron-update)
NEURON_UPDATE_OPS_STATELESS = 1  # threshold compare only


def neuron_update_ops(spec: LayerSpec) -> int:
    """Per-inference add-equivalent ops of the neuron sweep (spiking layers only)."""
    if not spec.spiking:
        return 0
    per = NEURON_UPDATE_OPS_STATEFUL if spec.has_membrane_state else NEURON_UPDATE_OPS_STATELESS
    return per * spec.n_neurons * spec.timesteps


MULTIPLIER_MAX = 2**17 - 1  # largest M_i on the signed 18-bit port (dse/export/integer_network.py, auto F)


def mfp_state_bits(spec: LayerSpec) -> int:
    """Bits of the MFP integrator V_t = (2^k - 1) V_{t-1} + 2^(k t) I_t per neuron (docs/integer-semantics.md):
    bitlen(A) + k T + 1 with A = fan_in x max|q| x max input x max M the bound on |I| (max|q| = 2^(W-1), 1 for
    1-bit odd levels; M < 2^17), the width the Verilog template stores (it holds any trained net's state_bits)."""
    if spec.weight_bits is None:
        return FP32_BITS
    max_q = 2 ** (spec.weight_bits - 1) if spec.weight_bits > 1 else 1
    bound = spec.fan_in * max_q * max(spec.input_max_code, 1) * MULTIPLIER_MAX
    return bound.bit_length() + int(spec.leak_shift or 0) * spec.timesteps + 1


def membrane_state_bits(spec: LayerSpec) -> int:
    """Bits of state kept per neuron between timesteps: the membrane (0 for a stateless
    quantizer), or for the readout its accumulator, which always lives across the T steps.
    The MFP neuron, reset-free and without a membrane register in the model, keeps its exact
    integrator V in hardware: mfp_state_bits."""
    if not spec.spiking:
        return int(spec.membrane_bits or FP32_BITS)
    if spec.neuron == "mfp":
        return mfp_state_bits(spec)
    if not spec.has_membrane_state:
        return 0
    return FP32_BITS if spec.membrane_bits is None else spec.membrane_bits


def weight_memory_bits(spec: LayerSpec) -> int:
    """Bits stored for the layer's weights, all sets together (docs/cost-models.md, Memory)."""
    return spec.n_weights * spec.weight_storage_bits


def membrane_memory_bits(spec: LayerSpec) -> int:
    """Bits of neuron state kept between timesteps (membranes, or the readout's accumulators)."""
    return spec.n_neurons * membrane_state_bits(spec)


def scale_memory_bits(spec: LayerSpec) -> int:
    """One fp16 scale per output channel of a quantized layer; 0 for a full-precision layer."""
    return SCALE_BITS * spec.out_channels if spec.weight_bits is not None else 0


@dataclass(frozen=True)
class StaticCounts:
    """The counts of one layer that do not depend on activity (per inference, and stored bits)."""

    macs: int
    neuron_ops: int
    state_bits: int  # membrane_state_bits: 0 when the layer keeps no state between timesteps
    weight_memory_bits: int
    membrane_memory_bits: int
    scale_memory_bits: int


def static_counts(spec: LayerSpec) -> StaticCounts:
    """MACs, neuron-update ops and stored bits of one layer: everything but the ACs."""
    return StaticCounts(
        macs=count_macs(spec),
        neuron_ops=neuron_update_ops(spec),
        state_bits=membrane_state_bits(spec),
        weight_memory_bits=weight_memory_bits(spec),
        membrane_memory_bits=membrane_memory_bits(spec),
        scale_memory_bits=scale_memory_bits(spec),
    )
