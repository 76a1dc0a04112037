"""Stage 3 of the cost pipeline, the hardware template: where each layer's memories go, FPGA
resources (LUT/FF/BRAM18/DSP, share of the device) of the project's layer
template (dse/hardware/verilog/). Reads LayerSpecs and counts (network.py, ops.py) and the
target's capacities and template constants; energy.py reads its memory kinds; latency.py counts its cycles.
ASIC targets book every buffer in SRAM and no resources.

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
counts into LUTs and FFs are a TemplateConstants (defaults with their sources, mostly FINN-R; `dse
calibrate` fits them to synthesis reports within physical bounds). The counts are what synthesis
keeps (yosys 0.23 on the grid of benchmarks/synthesis): LUTRAM in its primitives, ROM columns that
can differ, registers that no DSP48 or BRAM18 takes in. See docs/cost-models.md#fpga for every
formula and constant.
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


def input_value_bits(spec: LayerSpec) -> int:
    """Bits of the largest value the layer reads, as the template's units take it: the static codes
    (layer 0), 3 for the pooled sums 0..4 after an average pool, 1 for spikes and event frames."""
    if not spec.input_is_spike:
        return spec.input_bits or FP32_BITS
    return max(1, int(spec.input_max_code).bit_length())


def timestep_acc_bits(weight_bits: int, fan_in: int, input_bits: int) -> int:
    """Bits of a unit's per-timestep accumulator: fan_in products of a W-bit code and an
    input_bits code (1 for spikes) cannot overflow it (also for 1-bit and odd-level codes)."""
    return weight_bits + input_bits + _clog2(fan_in)


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

    LUT features: unit_bits: adder/compare/mux bits of the P units' datapath; compare_bits: bits
    compared with constants (the Q-SNN comparator bank); multiplier_bits: adder bits of LUT
    multipliers (shift-add); lutram_luts: LUTs of the RAMs in distributed-RAM primitives;
    rom_luts: LUT logic of the ROMs kept in LUTs; counter_bits: per-layer counters, addresses
    and control registers (also the FF feature). FF features: unit_ff_bits: the registers of the
    P units that stay flip-flops (not the ones a DSP48 or a BRAM takes in, not ROM read bits
    that repeat the address). memory_luts is FINN's c2 over every LUT-kept memory (the booking
    tests compare with the Verilog), not a feature.
    """

    unit_bits: int
    compare_bits: int
    multiplier_bits: int
    memory_luts: int
    lutram_luts: int
    rom_luts: int
    unit_ff_bits: int
    counter_bits: int
    bram18: int
    dsp: int
    memories: dict[str, MemoryMapping]

    def lut_features(self) -> tuple[float, ...]:
        """Values multiplying LUT_TERMS (the first is the per-layer constant)."""
        return (1.0, self.unit_bits, self.compare_bits, self.multiplier_bits, self.lutram_luts, self.rom_luts,
                self.counter_bits)

    def ff_features(self) -> tuple[float, ...]:
        """Values multiplying FF_TERMS."""
        return (1.0, self.unit_ff_bits, self.counter_bits)


def lut_multiplier_bits(a_bits: int, b_bits: int) -> int:
    """Adder bits of an a x b multiplier in LUTs as the template writes it (snn_wmul's shift-add): one
    conditional add of the a + b + 1 bit sum per bit of the narrower operand."""
    return min(a_bits, b_bits) * (a_bits + b_bits + 1)


def lutram_primitive_luts(depth: int, width: int, single_port: bool) -> int:
    """LUTs of a depth x width RAM in 7-series distributed-RAM primitives (UG474, as yosys and Vivado map
    them). Single port (read and write at one address, the state RAMs): RAM32M holds 8 bits of 32 words
    in 4 LUTs, RAM64M 4 bits of 64, RAM128X1S 1 bit of 128 in 2. Simple dual port (its own read address:
    the input, spike and frame buffers): RAM32M 6 bits, RAM64M 3 bits, RAM128X1D 1 bit in 4 LUTs."""
    if depth <= 0 or width <= 0:
        return 0
    if single_port:
        if depth <= 32:
            return 4 * math.ceil(width / 8)
        if depth <= 64:
            return 4 * math.ceil(width / 4)
        return 2 * width * math.ceil(depth / 128)
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    if depth <= 64:
        return 4 * math.ceil(width / 3)
    return min(4 * width * math.ceil(depth / 128), 4 * math.ceil(width / 3) * math.ceil(depth / 64))


def _distinct_columns(depth: int, width: int) -> int:
    """At most this many of a ROM's bit columns differ from a constant, an address bit and each other: a
    column is a function of the address, and there are 2^depth words' worth of them."""
    return width if depth >= width.bit_length() + 1 else min(width, 2 ** depth - 2)


def rom_logic_luts(depth: int, width: int) -> int:
    """LUT logic of a ROM kept in LUTs: one LUT6 per column per 64 words (FINN's c2), none for a ROM of one
    or two words (a constant or an address bit), at most one column per distinct function of the address."""
    if depth <= 2 or width <= 0:
        return 0
    return _distinct_columns(depth, width) * math.ceil(depth / LUTRAM_BITS_PER_LUT)


def rom_read_registers(memory: MemoryMapping) -> int:
    """Flip-flops of a ROM's registered read: none in a BRAM18 (its output register), none for one word (a
    constant), else one per column that is neither constant nor a copy of another (`_distinct_columns`)."""
    if memory.kind != "lutram" or memory.depth <= 1:
        return 0
    return _distinct_columns(memory.depth, memory.width)


RAM_ROLES = {"membranes": True, "spikes": False, "inputs": False}  # written at run time: single port?


def accumulates_in_dsp(spec: LayerSpec) -> bool:
    """The units' accumulator sits in a DSP48 (no LUTs, no flip-flops): a static linear layer 0 adds into
    the scale multiplier's pre-adder (A + D, its AD register), a DSP weight multiplier (W > 4) into its
    post-adder (P = P + A B). What yosys 0.23 synth_xilinx packs in the grid (docs/cost-models.md, section 12)."""
    return (not spec.input_is_spike) and (spec.kind == "linear" or not uses_lut_weight_multiplier(spec))


def unit_register_bits(spec: LayerSpec, memories: dict[str, MemoryMapping], acc_bits: int, state_bits: int,
                       n_scale: int, product_ffs: int) -> int:
    """Register bits of the P units that stay flip-flops: the state read, current and write registers
    (the read one is the BRAM18's own when the state RAM is a BRAM), the readout's sum (and TTQ/TaWQ
    readouts' logit), the accumulators unless in a DSP48, the product when its multiplier is in LUTs,
    conv pooling; plus the registered reads of the scale and weight ROMs (`rom_read_registers`; a DSP
    weight multiplier takes the weight in its input register)."""
    state_regs = 2 + (memories["membranes"].kind != "bram18") if state_bits else 0
    per_unit = state_bits * state_regs + product_ffs
    if not spec.spiking:
        per_unit += state_bits * (1 + (spec.weight_form != SCALED))
    if not accumulates_in_dsp(spec):
        per_unit += n_scale * acc_bits
    if spec.kind == "conv":
        per_unit += (AVG_POOL_SUM_BITS if spec.pool_after == "avg" else 1) + 1  # pooling sum, spike
    weight_in_dsp = (not spec.input_is_spike) and not uses_lut_weight_multiplier(spec)
    return (spec.parallelism * per_unit + rom_read_registers(memories["scales"])
            + (0 if weight_in_dsp else rom_read_registers(memories["weights"])))


def control_register_bits(spec: LayerSpec, state_bits: int) -> int:
    """Counters and registers beyond the linear layer's: a conv layer's base and tap positions, channel
    and lane; layer 0's event intake (frame word, event count and index); the readout's argmax (best
    logit, state + 18 + 1 bits, and the class indices)."""
    bits = 0
    if spec.kind == "conv":
        cin, h, wd = spec.in_shape
        bits += 2 * _clog2(h) + 2 * _clog2(wd) + _clog2(cin) + 4 + _clog2(spec.parallelism)
    if reads_events(spec):
        n = math.prod(spec.in_shape)
        bits += (event_beat_bits(spec.in_shape[-1]) if spec.kind == "conv" else 0) + 2 * _clog2(n) + 2
    if not spec.spiking:
        bits += state_bits + SCALE_MULT_BITS + 1 + 2 * _clog2(spec.n_neurons)
    return bits


def layer_counts(spec: LayerSpec, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> LayerCounts:
    """Structural counts of one layer: datapath and register bits, LUT multipliers, memories."""
    p = spec.parallelism
    w = spec.weight_bits or FP32_BITS  # fp datapaths costed as 32-bit integer ones (lower bound)
    a = 1 if spec.input_is_spike else (spec.input_bits or FP32_BITS)
    acc_t = timestep_acc_bits(w, spec.fan_in, a)
    state = membrane_state_bits(spec)
    scaled = has_scale_multiplier(spec)
    mult_bits = compare_bits = dsp = product_ffs = 0
    n_scale = 2 if spec.weight_form == SIGN_SCALES else 1  # TTQ: acc+ M - acc- Mn, two multipliers a unit
    if spec.spiking and spec.neuron == QSNN:
        b = spec.membrane_bits or FP32_BITS
        hw = qsnn_h_bits(spec, acc_t)
        # accumulate, acc M, j Ma, the add, the count of levels passed; the bank of 2^B - 1 comparisons of
        # H with the threshold ROM's constants (Theta, B_1 .. B_2L) is compare_bits
        unit = acc_t + (acc_t + SCALE_MULT_BITS) + hw + b
        compare_bits = p * (2 ** b - 1) * (hw + 1)
        if multiplier_in_luts(b, SCALE_MULT_BITS):
            mult_bits += p * lut_multiplier_bits(b, SCALE_MULT_BITS)
        else:
            dsp += p * dsp_per_multiplier(b, SCALE_MULT_BITS)
    elif spec.spiking and spec.neuron == MFP:
        # accumulate, acc M, the shift 2^(k t), V (2^k - 1) + I, compare with Theta_t
        unit = acc_t + (acc_t + SCALE_MULT_BITS) + 3 * state
    elif spec.spiking and spec.has_membrane_state:
        b = spec.membrane_bits or FP32_BITS
        # accumulate, H = m(2^k - 1)2^F + acc M, leak, round, clamp, threshold
        unit = acc_t + (acc_t + SCALE_MULT_BITS if scaled else b) + 4 * b
    elif spec.spiking:
        unit = 2 * acc_t  # accumulate and compare: no membrane kept between timesteps
    else:
        unit = acc_t + state  # timestep accumulate, accumulate over T
    if n_scale == 2:
        unit += acc_t + (acc_t + SCALE_MULT_BITS + 1)  # the second accumulator, I = acc+ M - acc- Mn
    if accumulates_in_dsp(spec):
        unit -= n_scale * acc_t
    if scaled:
        # the readout multiplies its T-step sum once (codes x M), or I(t) every step (TTQ, TaWQ)
        product_a = state if not spec.spiking and spec.weight_form == SCALED else acc_t
        if multiplier_in_luts(product_a, SCALE_MULT_BITS):
            mult_bits += n_scale * p * lut_multiplier_bits(product_a, SCALE_MULT_BITS)
            product_ffs = n_scale * (product_a + SCALE_MULT_BITS + 1)  # no DSP register to hold it
        else:
            dsp += n_scale * p * dsp_per_multiplier(product_a, SCALE_MULT_BITS)
    if not spec.input_is_spike:
        if uses_lut_weight_multiplier(spec):
            mult_bits += p * lut_multiplier_bits(int(spec.weight_bits), int(spec.input_bits))
        else:
            dsp += p * dsp_per_multiplier(spec.weight_bits, spec.input_bits)
    memories = {
        "weights": weight_memory(spec, lutram_max_depth),
        "membranes": membrane_memory(spec, lutram_max_depth),
        "scales": scale_memory(spec, lutram_max_depth),
        "spikes": spike_buffer(spec, lutram_max_depth),
        "inputs": input_buffer(spec, lutram_max_depth),
        # the Q-SNN H width follows the template's accumulator, which holds pooled sums 0..4 (acc_t counts 1 bit)
        "thresholds": threshold_memory(spec, timestep_acc_bits(w, spec.fan_in, input_value_bits(spec))),
    }
    n_groups = groups(spec.out_channels, p)
    wdepth = weight_memory_depth(spec)
    events = _clog2(spec.fan_in + 1)
    counters = (
        2 * _clog2(n_groups) + 2 * _clog2(max(wdepth, 1)) + 3 * events + 2 * _clog2(n_groups * p)
        + p + _clog2(spec.timesteps) + _clog2(spec.n_neurons + 1)
        + (2 * a if not spec.input_is_spike else 0)
    ) + control_register_bits(spec, state)
    roms = ("weights", "scales") + (("thresholds",) if spec.neuron == MFP else ())  # Q-SNN's are compare constants
    return LayerCounts(
        unit_bits=p * unit,
        compare_bits=compare_bits,
        multiplier_bits=mult_bits,
        memory_luts=sum(m.lutram_luts for m in memories.values()),
        lutram_luts=sum(lutram_primitive_luts(memories[r].depth, memories[r].width, single)
                        for r, single in RAM_ROLES.items() if memories[r].kind == "lutram"),
        rom_luts=sum(rom_logic_luts(memories[r].depth, memories[r].width) for r in roms
                     if memories[r].kind == "lutram"),
        unit_ff_bits=unit_register_bits(spec, memories, acc_t, state, n_scale, product_ffs),
        counter_bits=counters,
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
