"""Stage 3 of the cost pipeline, the hardware template: where each layer's memories go, FPGA
resources (LUT/FF/BRAM18/DSP, share of the device) and cycle latency of the project's layer
template (dse/hardware/verilog/). Reads LayerSpecs and counts (network.py, ops.py) and the
target's capacities and template constants; energy.py reads its memory kinds and cycles.
ASIC targets use the same template for latency, with every buffer in SRAM and no resources.

Template per weight layer: P parallel neuron units working on a group of P neurons (output
channels) at a time; a weight memory of width P x W and depth ceil(out_channels / P) x fan_in
(x T sets when weights change per timestep); a scale memory (one multiplier M_i per neuron,
SCALE_CODE_BITS each); a membrane memory of width P x membrane bits and depth
ceil(out_channels / P) x positions (H x W of a conv map, 1 for a linear layer: the last group is
padded); the spikes a spiking layer hands on (a linear layer: an event list of neuron indices;
a conv layer: its pooled output map, 1 bit a value or 3 after an average pool); layer 0's
input buffer (static: 8-bit codes; events: an event list (MLP) or the binary frame in stream
beats (conv)). These are exactly the memories the Verilog declares (verilog_params.json
"memories", tests/test_verilog.py). Per input event every unit accumulates one weight; per
neuron and timestep it applies acc x M_i, the leak, rounding, saturation, threshold and reset.
Memories are packed with FINN-R's BRAM18 rules, or LUTRAM when at most 128 deep (FINN's rule). The constants that turn the structural
counts into LUTs and FFs are a TemplateConstants (defaults from FINN-R; `dse calibrate` fits
them to synthesis reports). See docs/cost-models.md#fpga for every formula and constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cost_models.network import (
    AVG_POOL_SUM_BITS, FP32_BITS, MFP, PER_TIMESTEP, POOL_KERNEL, QSNN, SCALED, SIGN_SCALES, LayerSpec,
)
from cost_models.ops import membrane_state_bits
from cost_models.targets import Target
from cost_models.template_constants import (
    DEFAULT_CONSTANTS, FF_TERMS, LUT_TERMS, LUTRAM_MAX_DEPTH, TemplateConstants,
)

FP32_MANTISSA_BITS = 24  # an fp32 multiply is costed as its 24-bit mantissa product

LUTRAM_BITS_PER_LUT = 64  # one SLICEM LUT6 as RAM64X1 (c2 = width x ceil(depth / 64))
LUT_MULT_MAX_BITS = 4  # weights <= 4 bits: multiplier in LUTs (FINN mult formula); else DSP
DSP_MULT_A_BITS = 25  # DSP48E1 multiplier is 25 x 18 bits (Xilinx UG479)
DSP_MULT_B_BITS = 18
SCALE_MULT_BITS = 18  # M_i on a signed 18-bit DSP48E1 port (dse/export/integer_network.py MULTIPLIER_BITS)
SCALE_CODE_BITS = SCALE_MULT_BITS - 1  # stored unsigned M_i < 2^17


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


def memory_style(depth: int, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> str:
    """Verilog ram_style / rom_style of a memory this deep: 'distributed' (LUTs) or 'block'."""
    return "distributed" if depth <= lutram_max_depth else "block"


def map_memory(depth: int, width: int, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """Pack a depth x width memory: LUTRAM when at most 128 deep, else BRAM18 (FINN)."""
    if depth <= 0 or width <= 0:
        return MemoryMapping("none", 0, 0, 0, 0)
    if depth <= lutram_max_depth:
        return MemoryMapping("lutram", depth, width, 0, lutram_luts(depth, width))
    return MemoryMapping("bram18", depth, width, bram18_count(depth, width), 0)


def groups(out_channels: int, parallelism: int) -> int:
    """Groups of P neurons (output channels) the units work through, the last one padded."""
    return math.ceil(out_channels / parallelism)


def weight_memory_depth(spec: LayerSpec) -> int:
    """Words of the weight memory: per group of P output channels one word per input (x sets)."""
    return groups(spec.out_channels, spec.parallelism) * spec.fan_in * spec.weight_sets


def weight_memory(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """Weight memory of the template: the P weights of one input for one group per word."""
    return map_memory(weight_memory_depth(spec), spec.parallelism * spec.weight_read_bits, lutram_max_depth)


def positions(spec: LayerSpec) -> int:
    """Neurons per output channel: H x W of a conv layer's output map, 1 for a linear layer."""
    return spec.n_neurons // spec.out_channels


def membrane_memory_depth(spec: LayerSpec) -> int:
    """Words of the membrane memory: per group of P channels one word per position; the last
    group is padded (ceil(out_channels / P) x H x W; ceil(n_neurons / P) for a linear layer)."""
    return groups(spec.out_channels, spec.parallelism) * positions(spec)


def membrane_memory(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """Membrane (or readout accumulator) memory: P states per word, one word per group and position."""
    bits = membrane_state_bits(spec)
    p = spec.parallelism
    return map_memory(membrane_memory_depth(spec) if bits else 0, p * bits, lutram_max_depth)


def has_scale_multiplier(spec: LayerSpec) -> bool:
    """Every layer applies acc x M_i once per neuron and timestep (readout: once per inference);
    fp layers are costed as 32-bit integer ones, scale included (a lower bound of fp hardware)."""
    return True


def scale_memory(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """The M_i of one group per word (P x SCALE_CODE_BITS); TTQ: M_i and Mn_i (2 P x SCALE_CODE_BITS);
    TaWQ: one such word per group and timestep (depth groups x T)."""
    sets = spec.timesteps if spec.weight_form == PER_TIMESTEP else 1
    per_unit = 2 if spec.weight_form == SIGN_SCALES else 1
    return map_memory(groups(spec.out_channels, spec.parallelism) * sets,
                      spec.parallelism * per_unit * SCALE_CODE_BITS, lutram_max_depth)


def qsnn_h_bits(spec: LayerSpec, acc_bits: int) -> int:
    """Signed width of the Q-SNN's H = j Ma + acc M (|j| < 2^(B-1), acc of acc_bits, Ma and M < 2^17)."""
    return max(int(spec.membrane_bits or FP32_BITS), acc_bits) + SCALE_MULT_BITS


def threshold_memory(spec: LayerSpec, acc_bits: int) -> MemoryMapping:
    """The threshold ROM of a Q-SNN or MFP layer, one per layer, shared by the P units and read in
    parallel (LUT logic, whatever its depth): Q-SNN Theta and the 2L = 2^B - 2 level thresholds
    B_n (2^B - 1 words of H bits + 1, the values clamped to H's range); MFP Theta_t per timestep
    (T words of state bits + 1). Other layers have none."""
    if not spec.spiking or spec.neuron not in (QSNN, MFP):
        return map_memory(0, 0)
    if spec.neuron == QSNN:
        depth, width = 2 ** int(spec.membrane_bits or FP32_BITS) - 1, qsnn_h_bits(spec, acc_bits) + 1
    else:
        depth, width = spec.timesteps, membrane_state_bits(spec) + 1
    return MemoryMapping("lutram", depth, width, 0, lutram_luts(depth, width))


def output_map_shape(spec: LayerSpec) -> tuple[int, int, int]:
    """(C, H, W) of the map a conv layer hands on: after its 2x2 pooling (floor mode), if any."""
    c, h, w = spec.out_shape
    if spec.pool_after is None:
        return c, h, w
    return c, h // POOL_KERNEL, w // POOL_KERNEL


def spike_buffer(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """What a spiking layer writes for the next layer. Linear: an event list, one neuron index
    (ceil(log2 n_neurons) bits) per spike, n_neurons deep. Conv: the (pooled) output map, one
    value per (channel, y, x): a spike (1 bit), or after an average pool the sum 0..4 (3 bits)."""
    if not spec.spiking:
        return map_memory(0, 0)
    if spec.kind == "conv":
        bits = AVG_POOL_SUM_BITS if spec.pool_after == "avg" else 1
        return map_memory(math.prod(output_map_shape(spec)), bits, lutram_max_depth)
    return map_memory(spec.n_neurons, _clog2(spec.n_neurons) or 1, lutram_max_depth)


EVENT_BEAT_MIN_BITS = 2  # dse/hardware/verilog_template.py event_input: a beat has at least 2 pixels


def event_beat_bits(row_pixels: int) -> int:
    """Pixels per beat of the event stream: one frame row rounded up to a power of two (>= 2),
    the export's default (verilog_template.event_input)."""
    return 1 << max(1, _clog2(max(EVENT_BEAT_MIN_BITS, row_pixels)))


def reads_events(spec: LayerSpec) -> bool:
    """Layer 0 of an event-input network (it reads binary frames from the event stream)."""
    return spec.index == 0 and spec.input_is_spike


def input_buffer(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> MemoryMapping:
    """Layer 0's input buffer; none for layers that read the previous layer's spikes.

    Static input: one INPUT_BITS code per input value (written once, read at every timestep).
    Event input, linear layer 0: the event list of the current frame, n_in deep, ceil(log2 n_in)
    bits an entry. Event input, conv layer 0: the current binary frame as the stream delivers it,
    ceil(C x H x W / B) beats of B = event_beat_bits(W) pixels.
    """
    if not spec.input_is_spike:
        return map_memory(math.prod(spec.in_shape), spec.input_bits or FP32_BITS, lutram_max_depth)
    if not reads_events(spec):
        return map_memory(0, 0)
    n = math.prod(spec.in_shape)
    if spec.kind == "conv":
        beat = event_beat_bits(spec.in_shape[-1])
        return map_memory(math.ceil(n / beat), beat, lutram_max_depth)
    return map_memory(n, _clog2(n) or 1, lutram_max_depth)


BUFFER_ROLES = ("spikes", "inputs", "thresholds")  # the memories ops.py's memory bits leave out (fpga only)


def timestep_acc_bits(weight_bits: int, fan_in: int, input_bits: int) -> int:
    """Bits of a unit's per-timestep accumulator: fan_in products of a W-bit code and an
    input_bits code (1 for spikes) cannot overflow it (also for 1-bit and odd-level codes)."""
    return weight_bits + input_bits + _clog2(fan_in)


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


def multiplier_in_luts(a_bits: int | None, b_bits: int | None) -> bool:
    """The template's choice: a multiply whose narrower operand has at most 4 bits goes to LUTs."""
    return a_bits is not None and b_bits is not None and min(a_bits, b_bits) <= LUT_MULT_MAX_BITS


def uses_lut_weight_multiplier(spec: LayerSpec) -> bool:
    """Layer 0's weight x input multiplier is built in LUTs (W <= 4), not in a DSP."""
    return (not spec.input_is_spike) and spec.weight_bits is not None and spec.weight_bits <= LUT_MULT_MAX_BITS




@dataclass(frozen=True)
class LayerCounts:
    """Structural counts of one layer of the template, before any constant is applied.

    unit_bits: adder/compare bits of the P units; multiplier_luts: LUT multipliers (FINN's
    mult term); memory_luts: LUTRAM LUTs (FINN's c2); unit_ff_bits: register bits of the P
    units; counter_ff_bits: per-layer counters, addresses and control registers.
    """

    unit_bits: int
    multiplier_luts: int
    memory_luts: int
    unit_ff_bits: int
    counter_ff_bits: int
    bram18: int
    dsp: int
    memories: dict[str, MemoryMapping]

    def lut_features(self) -> tuple[float, ...]:
        """Values multiplying LUT_TERMS (the first is the per-layer constant)."""
        return (1.0, self.unit_bits, self.multiplier_luts, self.memory_luts)

    def ff_features(self) -> tuple[float, ...]:
        """Values multiplying FF_TERMS."""
        return (1.0, self.unit_ff_bits, self.counter_ff_bits)


def layer_counts(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> LayerCounts:
    """Structural counts of one layer: datapath and register bits, LUT multipliers, memories."""
    p = spec.parallelism
    w = spec.weight_bits or FP32_BITS  # fp datapaths costed as 32-bit integer ones (lower bound)
    a = 1 if spec.input_is_spike else (spec.input_bits or FP32_BITS)
    acc_t = timestep_acc_bits(w, spec.fan_in, a)
    state = membrane_state_bits(spec)
    scaled = has_scale_multiplier(spec)
    mult_luts = dsp = 0
    n_scale = 2 if spec.weight_form == SIGN_SCALES else 1  # TTQ: acc+ M - acc- Mn, two multipliers a unit
    if spec.spiking and spec.neuron == QSNN:
        b = spec.membrane_bits or FP32_BITS
        hw = qsnn_h_bits(spec, acc_t)
        # accumulate, acc M, j Ma, the add, the 2L comparators of the level bank and Theta's, the count
        unit = acc_t + (acc_t + SCALE_MULT_BITS) + hw + 2 ** b * (hw + 1) + b
        unit_ff = acc_t + (acc_t + SCALE_MULT_BITS + 1) + 2 * state + spec.weight_read_bits
        if multiplier_in_luts(b, SCALE_MULT_BITS):
            mult_luts += p * lut_multiplier_luts(b, SCALE_MULT_BITS)
        else:
            dsp += p * dsp_per_multiplier(b, SCALE_MULT_BITS)
    elif spec.spiking and spec.neuron == MFP:
        # accumulate, acc M, the shift 2^(k t), V (2^k - 1) + I, compare with Theta_t
        unit = acc_t + (acc_t + SCALE_MULT_BITS) + 3 * state
        unit_ff = acc_t + (acc_t + SCALE_MULT_BITS + 1) + 2 * state + spec.weight_read_bits
    elif spec.spiking and spec.has_membrane_state:
        b = spec.membrane_bits or FP32_BITS
        # accumulate, H = m(2^k - 1)2^F + acc M, leak, round, clamp, threshold
        unit = acc_t + (acc_t + SCALE_MULT_BITS if scaled else b) + 4 * b
        unit_ff = acc_t + (acc_t + SCALE_MULT_BITS + 1 if scaled else 0) + 2 * state + spec.weight_read_bits
    elif spec.spiking:
        unit = 2 * acc_t  # accumulate and compare: no membrane kept between timesteps
        unit_ff = acc_t + spec.weight_read_bits
    else:
        unit = acc_t + state  # timestep accumulate, accumulate over T
        unit_ff = acc_t + 2 * state + spec.weight_read_bits + ((state + SCALE_MULT_BITS) if scaled else 0)
    if n_scale == 2:
        unit += acc_t  # the second accumulator
        unit_ff += acc_t
    if scaled:
        # the readout multiplies its T-step sum once (codes x M), or I(t) every step (TTQ, TaWQ)
        product_a = state if not spec.spiking and spec.weight_form == SCALED else acc_t
        if multiplier_in_luts(product_a, SCALE_MULT_BITS):
            mult_luts += n_scale * p * lut_multiplier_luts(product_a, SCALE_MULT_BITS)
        else:
            dsp += n_scale * p * dsp_per_multiplier(product_a, SCALE_MULT_BITS)
    if not spec.input_is_spike:
        if uses_lut_weight_multiplier(spec):
            mult_luts += p * lut_multiplier_luts(int(spec.weight_bits), int(spec.input_bits))
        else:
            dsp += p * dsp_per_multiplier(spec.weight_bits, spec.input_bits)
    memories = {
        "weights": weight_memory(spec, lutram_max_depth),
        "membranes": membrane_memory(spec, lutram_max_depth),
        "scales": scale_memory(spec, lutram_max_depth),
        "spikes": spike_buffer(spec, lutram_max_depth),
        "inputs": input_buffer(spec, lutram_max_depth),
        "thresholds": threshold_memory(spec, acc_t),
    }
    n_groups = groups(spec.out_channels, p)
    wdepth = weight_memory_depth(spec)
    events = _clog2(spec.fan_in + 1)
    counters = (
        2 * _clog2(n_groups) + 2 * _clog2(max(wdepth, 1)) + 3 * events + 2 * _clog2(n_groups * p)
        + p + _clog2(spec.timesteps) + _clog2(spec.n_neurons + 1)
        + (2 * a if not spec.input_is_spike else 0)
    )
    return LayerCounts(
        unit_bits=p * unit,
        multiplier_luts=mult_luts,
        memory_luts=sum(m.lutram_luts for m in memories.values()),
        unit_ff_bits=p * unit_ff,
        counter_ff_bits=counters,
        bram18=sum(m.bram18 for m in memories.values()),
        dsp=dsp,
        memories=memories,
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
    memory_lutram_luts: int = 0  # LUTRAM LUTs of all the layer's memories (weights, membranes, scales, buffers)
    memories: dict[str, MemoryMapping] | None = None  # role -> mapping, every memory booked (layer_counts)


def _ceil(x: float) -> int:
    """Ceil that ignores float noise (a mean count of 1728.0000000002 is 1728 cycles)."""
    return math.ceil(x - 1e-9 * max(1.0, abs(x)))


def _clog2(n: int) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0


def _dot(coefficients: tuple[float, ...], features: tuple[float, ...]) -> float:
    return sum(c * f for c, f in zip(coefficients, features))


def layer_resources(spec: LayerSpec, constants: TemplateConstants = DEFAULT_CONSTANTS) -> LayerResources:
    """Resources of one layer of the template under the given constants."""
    counts = layer_counts(spec, constants.lutram_max_depth)
    lut = _ceil(_dot(tuple(getattr(constants, n) for n in LUT_TERMS), counts.lut_features()))
    ff = _ceil(_dot(tuple(getattr(constants, n) for n in FF_TERMS), counts.ff_features()))
    return LayerResources(
        lut=lut, ff=ff, bram18=counts.bram18, dsp=counts.dsp,
        weight_memory=counts.memories["weights"], membrane_memory=counts.memories["membranes"],
        memory_lutram_luts=counts.memory_luts, memories=counts.memories,
    )


def latency_cycles(spec: LayerSpec, acs: float, macs: float) -> int:
    """Cycles of one inference: stream ACs/MACs through P units, plus the neuron sweeps
    (T sweeps for spiking layers, one read-out sweep for the readout)."""
    p = spec.parallelism
    cycles = _ceil(acs / p) + _ceil(macs / p)
    sweeps = spec.timesteps if spec.spiking else 1
    return int(cycles + sweeps * math.ceil(spec.n_neurons / p))


def utilisation(lut: int, ff: int, bram18: int, dsp: int, target: Target) -> dict[str, float]:
    """Percent of the target's capacity per resource (FPGA targets only)."""
    caps = target.capacities
    return {
        "lut_util_pct": 100.0 * lut / caps["lut"],
        "ff_util_pct": 100.0 * ff / caps["ff"],
        "bram_util_pct": 100.0 * bram18 / caps["bram18"],
        "dsp_util_pct": 100.0 * dsp / caps["dsp"],
    }


@dataclass(frozen=True)
class LayerHardware:
    """One layer on one target: its resources and where its weights and membranes live."""

    resources: LayerResources | None  # None on ASIC targets
    weight_memory_kind: str  # sram | bram18 | lutram (an empty FPGA memory counts as lutram)
    membrane_memory_kind: str  # sram | bram18 | lutram | none (no state kept between timesteps)
    util: dict[str, float]  # per-layer percent of the device (FPGA), {} on ASIC
    # bits of the layer's input buffer (layer 0) and spike buffer / output map, as booked
    # (depth x width); not part of ops.py's weight/membrane/scale bits nor of memory_bytes
    buffer_memory_bits: int = 0


def template_memory_bits(spec: LayerSpec) -> dict[str, int]:
    """Role -> depth x width of every memory the template books for the layer (the Verilog's
    declared memories: weights, membranes, scales, spikes, inputs; padding of the last group
    included). Independent of the target's LUTRAM rule."""
    return {role: m.depth * m.width for role, m in layer_counts(spec).memories.items()}


def buffer_memory_bits(spec: LayerSpec) -> int:
    """Bits of the layer's buffers (BUFFER_ROLES: layer 0's input buffer, the spikes it hands on)."""
    bits = template_memory_bits(spec)
    return sum(bits[role] for role in BUFFER_ROLES)


def layer_hardware(spec: LayerSpec, target: Target) -> LayerHardware:
    """The template's resources and memory kinds of one layer on a target (ASIC: all SRAM)."""
    if target.kind == "fpga":
        res = layer_resources(spec, target.template)
        wkind = res.weight_memory.kind if res.weight_memory.kind != "none" else "lutram"
        mkind = res.membrane_memory.kind if res.membrane_memory.kind != "none" else "lutram"
    else:
        res, wkind, mkind = None, "sram", "sram"
    return LayerHardware(
        resources=res,
        weight_memory_kind=wkind,
        membrane_memory_kind=mkind if membrane_state_bits(spec) else "none",
        util=utilisation(res.lut, res.ff, res.bram18, res.dsp, target) if res is not None else {},
        buffer_memory_bits=(sum(res.memories[r].depth * res.memories[r].width for r in BUFFER_ROLES)
                            if res is not None else buffer_memory_bits(spec)),
    )
