"""FPGA resources and cycle latency of an event-driven layer template (first estimate).

Template per weight layer: P parallel neuron units; a weight memory of width P x W and depth
ceil(n_weights / P) (x T sets when weights change per timestep); a membrane memory of width
P x membrane bits and depth ceil(n_neurons / P). Each input event streams its fan-out weights
through the P units (one AC per unit per cycle); once per timestep the units sweep all neurons
(leak, compare, reset). Memories are packed with FINN-R's BRAM18 rules, or LUTRAM when at
most 128 deep (FINN's rule). See docs/cost-models.md#fpga for every formula and constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cost_models.energy import FP32_BITS, FP32_MANTISSA_BITS, acc_bits, membrane_state_bits
from cost_models.network import LayerSpec

# FINN-R (Blott et al., ACM TRETS 2018) / FINN MVAU lut_estimation constants
FINN_LUT_CONTROL = 300  # c0: per-layer control LUTs
FINN_LUT_PER_UNIT_FACTOR = 1.1  # c1: multiplies the per-PE datapath LUTs
LUTRAM_MAX_DEPTH = 128  # FINN: "memories up to 128 deep get implemented in LUTs"
LUTRAM_BITS_PER_LUT = 64  # one SLICEM LUT6 as RAM64X1 (c2 = width x ceil(depth / 64))
LUT_MULT_MAX_BITS = 4  # weights <= 4 bits: multiplier in LUTs (FINN mult formula); else DSP
DSP_MULT_A_BITS = 25  # DSP48E1 multiplier is 25 x 18 bits (Xilinx UG479)
DSP_MULT_B_BITS = 18


def bram18_count(depth: int, width: int) -> int:
    """RAMB18s for a depth x width memory in simple dual port, FINN-R's packing rules."""
    if depth <= 0 or width <= 0:
        return 0
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a depth x width LUTRAM (FINN's c2 term)."""
    if depth <= 0 or width <= 0:
        return 0
    return width * math.ceil(depth / LUTRAM_BITS_PER_LUT)


@dataclass(frozen=True)
class MemoryMapping:
    """Where one logical memory lands: 'bram18', 'lutram', or 'none' (empty)."""

    kind: str
    depth: int
    width: int
    bram18: int
    lutram_luts: int


def map_memory(depth: int, width: int) -> MemoryMapping:
    """Pack a depth x width memory: LUTRAM when at most 128 deep, else BRAM18 (FINN)."""
    if depth <= 0 or width <= 0:
        return MemoryMapping("none", 0, 0, 0, 0)
    if depth <= LUTRAM_MAX_DEPTH:
        return MemoryMapping("lutram", depth, width, 0, lutram_luts(depth, width))
    return MemoryMapping("bram18", depth, width, bram18_count(depth, width), 0)


def weight_memory(spec: LayerSpec) -> MemoryMapping:
    """Weight memory of the template: P weights per word, one word per cycle."""
    p = spec.parallelism
    depth = math.ceil(spec.n_weights / p) * spec.weight_sets
    return map_memory(depth, p * spec.weight_read_bits)


def membrane_memory(spec: LayerSpec) -> MemoryMapping:
    """Membrane (or readout accumulator) memory: P states per word."""
    bits = membrane_state_bits(spec)
    p = spec.parallelism
    return map_memory(math.ceil(spec.n_neurons / p) if bits else 0, p * bits)


def lut_multiplier_luts(a_bits: int, b_bits: int) -> int:
    """LUTs of one a x b LUT multiplier (FINN mult term with SIMD = 1)."""
    s = a_bits + b_bits
    return (2 * math.ceil(s / 6) - 1) * s


def dsp_per_multiplier(a_bits: int | None, b_bits: int | None) -> int:
    """DSP48E1 slices of one a x b multiply; fp32 multiplies 24-bit mantissas."""
    a = FP32_MANTISSA_BITS if a_bits is None else a_bits
    b = FP32_MANTISSA_BITS if b_bits is None else b_bits
    big, small = max(a, b), min(a, b)
    return math.ceil(big / DSP_MULT_A_BITS) * math.ceil(small / DSP_MULT_B_BITS)


def _uses_dsp(spec: LayerSpec) -> bool:
    return (not spec.input_is_spike) and (
        spec.weight_bits is None or spec.weight_bits > LUT_MULT_MAX_BITS
    )


@dataclass(frozen=True)
class LayerResources:
    """LUT / FF / BRAM18 / DSP of one layer and where its memories went."""

    lut: int
    ff: int
    bram18: int
    dsp: int
    weight_memory: MemoryMapping
    membrane_memory: MemoryMapping


def _ceil(x: float) -> int:
    """Ceil that ignores float noise (a mean count of 1728.0000000002 is 1728 cycles)."""
    return math.ceil(x - 1e-9 * max(1.0, abs(x)))


def _clog2(n: int) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0


def layer_resources(spec: LayerSpec) -> LayerResources:
    """Resources of one layer of the event-driven template."""
    p = spec.parallelism
    acc = acc_bits(spec) or FP32_BITS  # fp datapaths costed as 32-bit integer ones (lower bound)
    if spec.spiking:
        ops = 3 if spec.has_membrane_state else 2  # adder + leak + comparator / adder + comparator
    else:
        ops = 1  # readout: accumulate only
    unit_luts = ops * acc
    dsp = 0
    if not spec.input_is_spike:
        if _uses_dsp(spec):
            dsp = p * dsp_per_multiplier(spec.weight_bits, spec.input_bits)
        else:
            unit_luts += lut_multiplier_luts(int(spec.weight_bits), int(spec.input_bits))
    wmem, mmem = weight_memory(spec), membrane_memory(spec)
    lut = (
        FINN_LUT_CONTROL
        + math.ceil(FINN_LUT_PER_UNIT_FACTOR * p * unit_luts)
        + wmem.lutram_luts
        + mmem.lutram_luts
    )
    # FFs: per unit a state register and a weight register (+ product register for MACs);
    # per layer the weight-address, neuron-index and timestep counters (docs: template count).
    unit_ff = acc + spec.weight_read_bits
    if not spec.input_is_spike:
        unit_ff += (spec.weight_bits or FP32_BITS) + (spec.input_bits or FP32_BITS)
    ff = p * unit_ff + _clog2(max(wmem.depth, 1)) + _clog2(spec.n_neurons) + _clog2(spec.timesteps)
    return LayerResources(
        lut=lut, ff=ff, bram18=wmem.bram18 + mmem.bram18, dsp=dsp, weight_memory=wmem,
        membrane_memory=mmem,
    )


def latency_cycles(spec: LayerSpec, acs: float, macs: float) -> int:
    """Cycles of one inference: stream ACs/MACs through P units, plus the neuron sweeps
    (T sweeps for spiking layers, one read-out sweep for the readout)."""
    p = spec.parallelism
    cycles = _ceil(acs / p) + _ceil(macs / p)
    sweeps = spec.timesteps if spec.spiking else 1
    return int(cycles + sweeps * math.ceil(spec.n_neurons / p))
