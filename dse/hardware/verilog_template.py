"""The project's FPGA template as Verilog: per-layer parameters, memory images and the top module.

An IntegerNetwork (dse/export/integer_network.py) becomes one instance per weight layer chained
in `snn_top`: `snn_layer` (dse/hardware/verilog/snn_layer.v) for fully connected layers and the
readout, `snn_conv` (snn_conv.v) for 3x3 convolutions with padding 1 and optional 2x2 max or
average pooling. Between fully connected layers the spikes travel as event lists; a conv layer
writes its (pooled) output feature map into a memory the next layer reads. Layer 0 reads a
static input buffer (written once, read at every step) or, for event input, one binary frame
per timestep from a valid/ready stream. The readout accumulates over T, and the top takes the
argmax of the logits (ties to the lowest index). Every Verilog parameter comes from the
quantities the cost model uses (cost_models/fpga.py): P, W, membrane bits, the per-timestep
accumulator width, the readout accumulator width, the 17-bit scale codes M_i, and each memory's
style from the LUTRAM depth rule. The added integer forms (TTQ's two multipliers, TaWQ's per-timestep
codes and multipliers, the Q-SNN and MFP neurons) are built in `snn_layer` (fully connected layers and
the readout) and in `snn_conv` (3x3 conv layers). Refusals are one-line UserErrors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cost_models.fpga import (
    LUTRAM_MAX_DEPTH, SCALE_CODE_BITS, groups, memory_style, threshold_memory, timestep_acc_bits,
)
from cost_models.network import INPUT_BITS, accumulator_bits, product_readout_bits
from cost_models.ops import mfp_state_bits
from dse.errors import UserError
from dse.export.integer_network import (
    LIF, MFP, ODD_LEVELS, PER_TIMESTEP, QSNN, SCALED, SIGN_SCALES, STATIC_INPUT_MAX_CODE, TWOS_COMPLEMENT,
    IntegerLayer, IntegerNetwork,
)

VERILOG_DIR = Path(__file__).with_name("verilog")
LAYER_SOURCE = VERILOG_DIR / "snn_layer.v"
CONV_SOURCE = VERILOG_DIR / "snn_conv.v"
TOP_MODULE = "snn_top"
LUT_MULT_MAX_BITS = 4  # cost_models/fpga.py: layer 0's W <= 4 multipliers are LUTs, wider ones DSPs
CONV_KERNEL = 3  # the template's convolution: 3x3, padding 1, stride 1 (dse/training/model.py: padding k // 2)
POOL_CODES = {None: 0, "none": 0, "max": 1, "avg": 2}
WFORM_CODES = {SCALED: 0, SIGN_SCALES: 1, PER_TIMESTEP: 2}  # snn_layer.v WFORM
NEURON_CODES = {LIF: 0, QSNN: 1, MFP: 2}  # snn_layer.v NEURON
AVG_SUM_BITS = 3  # an average pool passes the sum of 4 spikes, 0..4
AVG_SUM_MAX = 4


@dataclass(frozen=True)
class LayerParameters:
    """The Verilog parameters of one `snn_layer` or `snn_conv` instance (names as in the .v files).

    For a conv layer n_in is the fan-in CIN x 9 (the weight ROM's words per group), cin/height/width
    the input map and pool 0 (none), 1 (max) or 2 (avg). `dense` says the layer multiplies
    multi-bit input values (static codes, pooled sums, or a feature map read by the readout);
    otherwise it accumulates weights of binary inputs (spike events, event frames).
    """

    name: str
    n_in: int
    n_out: int
    p: int
    w: int
    enc: int
    dense: int
    a: int
    lut_mult: int
    readout: int
    b: int
    acc: int
    racc: int
    mb: int
    f: int
    k: int
    wstyle: str
    sstyle: str
    mstyle: str
    kind: str = "linear"
    cin: int = 0
    height: int = 0
    width: int = 0
    pool: int = 0
    input_source: str = "events"  # static | events | frame | spikes | map (what the layer reads)
    # the added integer forms (snn_layer.v WFORM, NEURON): defaults are codes x M with a LIF neuron
    wform: int = 0  # 0 scaled, 1 TTQ (M and Mn), 2 TaWQ (T code and scale sets)
    neuron: int = 0  # 0 LIF, 1 Q-SNN, 2 MFP
    timesteps: int = 1
    sb: int = 8  # MFP: integrator state bits
    nthr: int = 1  # threshold ROM words (Q-SNN 2L + 1, MFP T)
    tw: int = 8  # threshold ROM word bits
    ma: int = 0  # Q-SNN leak multiplier
    tstyle: str = "auto"

    @property
    def weight_sets(self) -> int:
        return self.timesteps if self.wform == 2 else 1

    @property
    def scale_units(self) -> int:
        """Multipliers per unit in a scale word: 2 for TTQ (M, Mn), else 1."""
        return 2 if self.wform == 1 else 1

    @property
    def state_bits(self) -> int:
        """Bits per unit of the state RAM: readout accumulator, MFP integrator, or membrane / level."""
        return self.racc if self.readout else (self.sb if self.neuron == 2 else self.b)

    @property
    def tmem(self) -> str:
        return f"verilog_{self.name}_thresholds.mem"

    @property
    def groups(self) -> int:
        return groups(self.n_out, self.p)

    @property
    def module(self) -> str:
        return "snn_conv" if self.kind == "conv" else "snn_layer"

    @property
    def wmem(self) -> str:
        return f"verilog_{self.name}_weights.mem"

    @property
    def smem(self) -> str:
        return f"verilog_{self.name}_scales.mem"

    @property
    def pooled_hw(self) -> tuple[int, int]:
        """Height and width of the output map this conv layer writes (after pooling)."""
        side = 2 if self.pool else 1
        return self.height // side, self.width // side

    @property
    def out_values(self) -> int:
        """Values the layer hands to the next one: neurons (linear), output map entries (conv)."""
        if self.kind != "conv":
            return self.n_out
        ph, pw = self.pooled_hw
        return self.n_out * ph * pw

    @property
    def out_value_bits(self) -> int:
        return AVG_SUM_BITS if self.pool == 2 else 1

    @property
    def n_neurons(self) -> int:
        return self.n_out * self.height * self.width if self.kind == "conv" else self.n_out

    @property
    def in_values(self) -> int:
        """Values of the input the layer reads (conv: the input map; linear: n_in)."""
        return self.cin * self.height * self.width if self.kind == "conv" else self.n_in

    @property
    def input_data_bits(self) -> int:
        """Width of the layer's input read data port."""
        if self.kind == "conv":
            return self.a if self.dense else 1
        return self.a if self.dense else _clog2(self.n_in)

    @property
    def membrane_depth(self) -> int:
        return self.groups * (self.height * self.width if self.kind == "conv" else 1)

    def verilog(self) -> dict[str, int | str]:
        """Parameter name -> value for the instance."""
        styles = {"WMEM": self.wmem, "SMEM": self.smem, "WSTYLE": self.wstyle, "SSTYLE": self.sstyle,
                  "MSTYLE": self.mstyle}
        if self.kind == "conv":
            values = {
                "CIN": self.cin, "H": self.height, "WD": self.width, "COUT": self.n_out, "P": self.p, "W": self.w,
                "ENC": self.enc, "BIN": int(not self.dense), "A": self.a, "LUT_MULT": self.lut_mult, "B": self.b,
                "ACC": self.acc, "MB": self.mb, "F": self.f, "K": self.k, "POOL": self.pool, **styles,
                "T": self.timesteps,
            }
        else:
            values = {
                "N_IN": self.n_in, "N_OUT": self.n_out, "P": self.p, "W": self.w, "ENC": self.enc,
                "DENSE": self.dense, "A": self.a, "LUT_MULT": self.lut_mult, "READOUT": self.readout,
                "B": self.b, "ACC": self.acc, "RACC": self.racc, "MB": self.mb, "F": self.f, "K": self.k, **styles,
                "T": self.timesteps,
            }
        if self.wform:
            values.update(WFORM=self.wform, TS=self.weight_sets)
        if self.neuron:
            values.update(NEURON=self.neuron, SB=self.sb, NTHR=self.nthr, TW=self.tw, MA=self.ma, TMEM=self.tmem,
                          TSTYLE=self.tstyle)
        return values


def rom_style(depth: int, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> str:
    """rom_style of a ROM: 'block' when deeper than the LUTRAM limit, else 'auto' (LUT logic:
    yosys 0.23 finds no LUTRAM mapping for a ROM styled 'distributed')."""
    return "block" if memory_style(depth, lutram_max_depth) == "block" else "auto"


QSNN_MAX_MEMBRANE_BITS = 12  # snn_qsnn: a bank of 2^b - 2 comparators per unit; above 12 bits it is refused


def template_refusal(candidate: Any) -> str | None:
    """Why the template cannot build this Candidate, known before training (None: it can, as far as the
    configuration goes; fp weights and multiplier widths are checked on the trained network). The search
    screens such candidates on hardware targets, so the deployable front holds only what exports.
    Every quantizer type is built in fully connected and 3x3 conv layers alike."""
    if candidate.quantizer == "qsnn":
        wide = [b for b in candidate.membrane_bits if b is not None and b > QSNN_MAX_MEMBRANE_BITS]
        if wide:
            return (f"Q-SNN membrane bits {max(wide)}: the template's comparator bank takes "
                    f"2..{QSNN_MAX_MEMBRANE_BITS} bits (2^b - 2 comparators a unit)")
    if candidate.quantizer == "tawq" and candidate.quantizer_options.get("affine") == "scale_shift":
        return ("TaWQ affine scale_shift: a per-channel shift has no exact integer form (with a hard reset to 0 it is "
                "not a threshold shift, and the template has no bias input); affine scale or none builds")
    if candidate.family == "conv" and int(candidate.kernel_size) != CONV_KERNEL:
        return f"conv kernel {candidate.kernel_size}: the template's convolution is {CONV_KERNEL}x{CONV_KERNEL}"
    return None


def _refuse(layer: IntegerLayer, problem: str) -> UserError:
    return UserError(f"{layer.name}: {problem}")


def _check_common(layer: IntegerLayer) -> int:
    """Checks every layer needs; returns its weight bits."""
    if layer.weight_encoding not in (TWOS_COMPLEMENT, ODD_LEVELS):
        raise _refuse(layer, f"weight encoding {layer.weight_encoding!r}; accepted: {TWOS_COMPLEMENT}, {ODD_LEVELS}")
    m = np.asarray(layer.all_multipliers() if hasattr(layer, "all_multipliers") else layer.multiplier, dtype=np.int64)
    if m.size and (int(m.min()) < 0 or int(m.max()) >= 2**SCALE_CODE_BITS):
        need = int(np.abs(m).max()).bit_length()
        raise _refuse(layer, f"multipliers M_i need {need} bits; the template's scale multiplier takes "
                             f"0 <= M_i < 2^{SCALE_CODE_BITS} (export with scale bits 'auto')")
    w = int(layer.weight_bits)
    if not 1 <= w <= 16:
        raise _refuse(layer, f"{w}-bit weights; accepted: 1..16 bits")
    if int(layer.parallelism) < 1:
        raise _refuse(layer, f"parallelism {layer.parallelism}; accepted: 1 or more units")
    return w


def _membrane(layer: IntegerLayer) -> tuple[int, int]:
    b, k = int(layer.membrane_bits or 0), int(layer.leak_shift if layer.leak_shift is not None else -1)
    if not 2 <= b <= 24:
        raise _refuse(layer, f"membrane bits {b}; accepted: 2..24")
    if k < 0:
        raise _refuse(layer, "no leak shift (tau must be a power of two)")
    if layer.threshold_lsb != 2 ** (b - 2):
        raise _refuse(layer, f"threshold {layer.threshold_lsb} LSBs; the template fires at 2^(b-2) = {2 ** (b - 2)}")
    return b, k


def layer_parameters(net: IntegerNetwork, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> list[LayerParameters]:
    """Verilog parameters of every layer; UserError (one line) for what the template cannot express."""
    layers = net.layers
    if len(layers) < 2 or layers[-1].spiking or not all(l.spiking for l in layers[:-1]):
        raise UserError("the Verilog template needs one or more spiking layers followed by one non-spiking readout")
    kind = getattr(net, "input_kind", "static")
    if kind not in ("static", "events"):
        raise UserError(f"{kind} input: the Verilog template takes static input or event frames; accepted: static, events")
    events = kind == "events"
    out: list[LayerParameters] = []
    prev: LayerParameters | None = None
    for i, layer in enumerate(layers):
        w = _check_common(layer)
        p = int(layer.parallelism)
        spiking = bool(layer.spiking)
        form = getattr(layer, "weight_form", SCALED)
        neuron = getattr(layer, "neuron", LIF) if spiking else LIF
        if form not in WFORM_CODES or neuron not in NEURON_CODES:
            raise _refuse(layer, f"the {form} weight form with the {neuron} neuron is not in the Verilog template")
        if form != SCALED and w != 2:
            raise _refuse(layer, f"the {form} weight form takes ternary 2-bit codes, not {w}-bit")
        b, k = _membrane(layer) if spiking and neuron == LIF else (2, 0)
        if spiking and neuron == QSNN:
            b = int(layer.membrane_bits or 0)
            if not 2 <= b <= QSNN_MAX_MEMBRANE_BITS:
                raise _refuse(layer, f"Q-SNN membrane bits {b}; the template's comparator bank takes "
                                     f"2..{QSNN_MAX_MEMBRANE_BITS}")
        if spiking and neuron == MFP:
            k = int(layer.leak_shift if layer.leak_shift is not None else -1)
            if k < 0:
                raise _refuse(layer, "no leak shift (tau must be a power of two)")
        if layer.kind not in ("linear", "conv"):
            raise _refuse(layer, f"{layer.kind} layers are not in the Verilog template; accepted: linear, conv (3x3)")
        # what the layer reads: (source, value bits of the magnitude, signed port width, multiply?)
        if i == 0:
            # static: unsigned 8-bit codes (0..255) zero-extended into a signed 9-bit multiplier port;
            # odd-level codes (|q| up to 2^W - 1) need one accumulator bit more than the cost model's
            source, vbits, a, dense = ("frame" if layer.kind == "conv" else "events", 1, 1, 0) if events \
                else ("static", INPUT_BITS + (layer.weight_encoding == ODD_LEVELS), INPUT_BITS + 1, 1)
        elif prev.kind == "conv":
            avg = prev.pool == 2
            vbits = AVG_SUM_BITS if avg else 1
            source = "map"
            if layer.kind == "conv":
                a, dense = (vbits + 1, 1) if avg else (1, 0)
            else:  # the readout reads the flattened map value by value
                a, dense = vbits + 1, 1
        else:
            source, vbits, a, dense = "spikes", 1, 1, 0
        lut_mult = int(dense and (i > 0 or w <= LUT_MULT_MAX_BITS))  # a pooled sum 0..4 is a shift-add
        n_out = int(layer.codes.shape[0])
        sets = net.timesteps if form == PER_TIMESTEP else 1
        max_in = {"static": STATIC_INPUT_MAX_CODE}.get(source, AVG_SUM_MAX if vbits == AVG_SUM_BITS else 1)
        if layer.kind == "conv":
            if not spiking:
                raise _refuse(layer, "a conv readout is not in the Verilog template; accepted: a fully connected readout")
            ks = int(layer.kernel_size)
            if layer.codes.ndim != 4 or ks != CONV_KERNEL or tuple(layer.codes.shape[2:]) != (ks, ks):
                raise _refuse(layer, f"{ks}x{ks} convolution; the Verilog template builds 3x3 convolutions "
                                     "(padding 1, stride 1)")
            if int(layer.padding) != 1:
                raise _refuse(layer, f"padding {layer.padding}; the Verilog template's 3x3 convolution pads by 1")
            if layer.pool_after not in POOL_CODES:
                raise _refuse(layer, f"pooling {layer.pool_after!r}; accepted: max, avg, none (2x2)")
            if len(layer.in_shape) != 3 or (i > 0 and prev.kind != "conv"):
                raise _refuse(layer, "a conv layer after a fully connected one is not in the Verilog template")
            cin, height, width = (int(s) for s in layer.in_shape)
            if tuple(layer.out_shape) != (n_out, height, width) or int(layer.codes.shape[1]) != cin:
                raise _refuse(layer, f"shapes {tuple(layer.in_shape)} -> {tuple(layer.out_shape)} are not a 3x3 "
                                     "convolution with padding 1")
            n_in = cin * CONV_KERNEL * CONV_KERNEL
            n_groups = groups(n_out, p)
            acc = timestep_acc_bits(w, n_in, vbits)
            extra = _added_form_fields(layer, neuron, b, k, acc, max_in, net.timesteps)
            out.append(LayerParameters(
                name=layer.name, n_in=n_in, n_out=n_out, p=p, w=w, enc=int(layer.weight_encoding == ODD_LEVELS),
                dense=dense, a=a, lut_mult=lut_mult, readout=0, b=b, acc=acc,
                racc=accumulator_bits(w, n_in, net.timesteps), mb=SCALE_CODE_BITS, f=int(layer.scale_bits), k=k,
                wstyle=rom_style(n_groups * n_in * sets, lutram_max_depth),
                sstyle=rom_style(n_groups * sets, lutram_max_depth),
                mstyle=memory_style(n_groups * height * width, lutram_max_depth), kind="conv", cin=cin,
                height=height, width=width, pool=POOL_CODES[layer.pool_after], input_source=source,
                wform=WFORM_CODES[form], timesteps=int(net.timesteps), **extra,
            ))
        else:
            if layer.codes.ndim != 2:
                raise _refuse(layer, f"linear codes of shape {tuple(layer.codes.shape)}; expected [out, in]")
            n_in = int(layer.codes.shape[1])
            if prev is not None and prev.out_values != n_in:
                raise _refuse(layer, f"{n_in} inputs; {prev.name} hands it {prev.out_values}")
            n_groups = groups(n_out, p)
            racc = accumulator_bits(w, n_in, net.timesteps) + (vbits - 1)  # pooled sums 0..4: 2 more bits
            if not spiking and form != SCALED:  # the readout sums I(t) (multipliers per sign or timestep)
                racc = product_readout_bits(w, n_in, vbits, net.timesteps)
            acc = timestep_acc_bits(w, n_in, vbits)
            extra = _added_form_fields(layer, neuron, b, k, acc, max_in, net.timesteps) if spiking else {}
            out.append(LayerParameters(
                name=layer.name, n_in=n_in, n_out=n_out, p=p, w=w, enc=int(layer.weight_encoding == ODD_LEVELS),
                dense=dense, a=a, lut_mult=lut_mult, readout=int(not spiking), b=b,
                acc=acc, racc=racc, mb=SCALE_CODE_BITS, f=int(layer.scale_bits), k=k,
                wstyle=rom_style(n_groups * n_in * sets, lutram_max_depth),
                sstyle=rom_style(n_groups * sets, lutram_max_depth),
                mstyle=memory_style(n_groups, lutram_max_depth), input_source=source,
                wform=WFORM_CODES[form], timesteps=int(net.timesteps), **extra,
            ))
        prev = out[-1]
    return out


def _threshold_spec(layer: IntegerLayer, neuron: str, b: int, k: int, max_in: int, timesteps: int):
    """The cost model's LayerSpec fields that size a Q-SNN or MFP layer's state and threshold ROM
    (max_in: the largest input value, 255 static codes, 4 pooled sums, 1 spikes and events)."""
    from cost_models.network import LayerSpec

    fan_in = int(np.prod(layer.codes.shape[1:]))
    return LayerSpec(
        name=layer.name, index=0, kind="linear", in_shape=(fan_in,), out_shape=(layer.out_channels,), fan_in=fan_in,
        n_weights=fan_in * layer.out_channels, out_channels=layer.out_channels, n_neurons=layer.out_channels,
        weight_bits=int(layer.weight_bits), membrane_bits=b if neuron == QSNN else None, spiking=True,
        input_is_spike=max_in == 1, parallelism=int(layer.parallelism), pool_after=None, kernel_size=1, padding=0,
        timesteps=timesteps, has_membrane_state=neuron != MFP, weight_sets=1, weight_storage_bits=int(layer.weight_bits),
        weight_read_bits=int(layer.weight_bits), input_bits=max_in.bit_length(), neuron=neuron,
        leak_shift=k, input_max_code=max_in,
    )


def _added_form_fields(layer: IntegerLayer, neuron: str, b: int, k: int, acc: int, max_in: int,
                       timesteps: int) -> dict:
    """Q-SNN and MFP parameters: state and threshold ROM widths as cost_models.fpga books them."""
    if neuron == LIF:
        return {}
    spec = _threshold_spec(layer, neuron, b, k, max_in, timesteps)
    rom = threshold_memory(spec, acc)
    fields = {"neuron": NEURON_CODES[neuron], "nthr": rom.depth, "tw": rom.width}
    if neuron == QSNN:
        ma = int(layer.leak_multiplier)
        if not 0 <= ma < 2**SCALE_CODE_BITS:
            raise _refuse(layer, f"leak multiplier {ma}; the template takes 0 <= Ma < 2^{SCALE_CODE_BITS}")
        if layer.level_thresholds is None or len(layer.level_thresholds) != 2 * (2 ** (b - 1) - 1):
            raise _refuse(layer, f"a Q-SNN layer needs {2 * (2 ** (b - 1) - 1)} level thresholds")
        fields.update(ma=ma)
    else:
        sb = mfp_state_bits(spec)
        if layer.state_bits is not None and int(layer.state_bits) > sb:
            raise _refuse(layer, f"MFP state of {layer.state_bits} bits; the template holds {sb}")
        if layer.threshold_per_timestep is None or len(layer.threshold_per_timestep) < timesteps:
            raise _refuse(layer, f"an MFP layer needs {timesteps} thresholds, one per timestep")
        fields.update(sb=sb)
    return fields


def threshold_mem_lines(layer: IntegerLayer, params: LayerParameters) -> list[str]:
    """$readmemh lines of the threshold ROM, TW-bit two's complement words. Q-SNN: Theta, then B_1 .. B_2L
    (ascending); MFP: Theta_t for t = 0 .. T-1. Each value is clamped to [-2^(TW-2), 2^(TW-2)]: H (Q-SNN) and V
    (MFP) lie strictly inside that range, so every comparison keeps its result."""
    if params.neuron == 1:
        values = [int(layer.threshold_int)] + [int(v) for v in np.asarray(layer.level_thresholds).tolist()]
    else:
        values = [int(v) for v in np.asarray(layer.threshold_per_timestep).tolist()[: params.timesteps]]
    bound = 2 ** (params.tw - 2)
    digits = _hex_width(params.tw)
    return [f"{min(max(v, -bound), bound) & (2**params.tw - 1):0{digits}x}" for v in values]


def _hex_width(bits: int) -> int:
    return max(1, math.ceil(bits / 4))


def stored_codes(layer: IntegerLayer, codes: np.ndarray | None = None) -> np.ndarray:
    """The unsigned W-bit words stored for the codes q (two's complement, or j = (q + 2^W - 1) / 2)."""
    q = np.asarray(layer.codes if codes is None else codes, dtype=np.int64)
    w = int(layer.weight_bits)
    if layer.weight_encoding == ODD_LEVELS:
        j = (q + (2**w - 1)) // 2
        if np.any(2 * j - (2**w - 1) != q) or j.min(initial=0) < 0 or j.max(initial=0) >= 2**w:
            raise _refuse(layer, f"codes are not odd levels of {w} bits")
        return j
    lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    if q.size and (int(q.min()) < lo or int(q.max()) > hi):
        raise _refuse(layer, f"codes {int(q.min())}..{int(q.max())} do not fit {w}-bit two's complement")
    return q & (2**w - 1)


def weight_mem_lines(layer: IntegerLayer, params: LayerParameters) -> list[str]:
    """$readmemh lines of the weight ROM: word g * N_IN + j holds unit u's code of neuron g P + u
    at bits [u W +: W]; padding units of the last group hold code 0 (two's) or j 0 (odd).
    For a conv layer j = (c x 3 + ky) x 3 + kx (the codes' row order)."""
    sets = [layer.codes] if params.weight_sets == 1 else \
        [np.asarray(layer.codes_per_timestep)[t] for t in range(params.weight_sets)]  # TaWQ: set t at t G N_IN
    lines = []
    for codes_t in sets:
        codes = stored_codes(layer, codes_t).reshape(params.n_out, -1)
        p, w = params.p, params.w
        padded = np.zeros((params.groups * p, params.n_in), dtype=object)
        padded[: params.n_out] = codes.astype(object)  # padding j = 0 (odd) is q = -(2^W - 1): M = 0, never spikes
        digits = _hex_width(p * w)
        for g in range(params.groups):
            block = padded[g * p:(g + 1) * p]  # [P, N_IN]
            for j in range(params.n_in):
                word = 0
                for u in range(p):
                    word |= int(block[u, j]) << (u * w)
                lines.append(f"{word:0{digits}x}")
    return lines


def scale_mem_lines(layer: IntegerLayer, params: LayerParameters) -> list[str]:
    """$readmemh lines of the scale ROM: word g holds M of neuron g P + u at bits [u MB +: MB]; TTQ: Mn at
    [(P + u) MB +: MB]; TaWQ: word t G + g holds timestep t's multipliers."""
    pad = [0] * (params.groups * params.p - params.n_out)
    if params.wform == 2:
        sets = [[int(v) for v in row] for row in np.asarray(layer.multiplier_per_timestep).tolist()]
    else:
        sets = [[int(v) for v in np.asarray(layer.multiplier).tolist()]]
    lanes = [[s + pad] for s in sets]
    if params.wform == 1:
        lanes = [[sets[0] + pad, [int(v) for v in np.asarray(layer.multiplier_neg).tolist()] + pad]]
    digits = _hex_width(params.scale_units * params.p * params.mb)
    lines = []
    for parts in lanes:
        for g in range(params.groups):
            word = 0
            for half, m in enumerate(parts):
                for u in range(params.p):
                    word |= m[g * params.p + u] << ((half * params.p + u) * params.mb)
            lines.append(f"{word:0{digits}x}")
    return lines


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _param_list(values: dict[str, int | str]) -> str:
    items = []
    for key, value in values.items():
        items.append(f".{key}({value})" if isinstance(value, int) else f'.{key}("{value}")')
    return ",\n        ".join(items)


# ---------------------------------------------------------------- the top module


@dataclass(frozen=True)
class EventInput:
    """The event stream of layer 0: one binary frame per timestep in `beats` beats of `beat_bits`
    pixels (flat order c, y, x; pixel beat x beat_bits + i in bit i; the last beat's spare bits
    are ignored)."""

    n_pixels: int
    beat_bits: int

    @property
    def beats(self) -> int:
        return -(-self.n_pixels // self.beat_bits)


def event_input(net: IntegerNetwork, beat_bits: int | None = None) -> EventInput | None:
    """The stream format of an event-input network (None for static input): by default one beat
    per frame row, rounded up to a power of two (an 8x8 frame: 8 pixels a beat)."""
    if getattr(net, "input_kind", "static") != "events":
        return None
    n = int(np.prod(net.input_shape))
    if beat_bits is None:
        beat_bits = 1 << max(1, math.ceil(math.log2(max(2, int(net.input_shape[-1])))))
    if beat_bits < 2 or beat_bits & (beat_bits - 1):
        raise UserError(f"event beats of {beat_bits} bits; accepted: a power of two >= 2")
    return EventInput(n, beat_bits)


@dataclass(frozen=True)
class Memory:
    """One memory the design declares: its Verilog name, the layer the cost model books it to,
    its role there (weights, scales, membranes, spikes, inputs), shape, style and FPGA kind."""

    layer: str
    role: str
    name: str
    width: int
    depth: int
    style: str  # ram_style / rom_style: block, distributed, auto (ROM in LUT logic)

    @property
    def kind(self) -> str:
        """bram18 or lutram, as cost_models.fpga.map_memory names it."""
        return "bram18" if self.style == "block" else "lutram"

    def as_dict(self) -> dict[str, int | str]:
        return {"layer": self.layer, "role": self.role, "name": self.name, "width": self.width,
                "depth": self.depth, "style": self.style, "kind": self.kind}


def design_memories(params: list[LayerParameters], stream: EventInput | None = None,
                    lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> list[Memory]:
    """Every memory the design declares, per layer (the roles of cost_models.fpga.layer_counts)."""
    mems: list[Memory] = []
    first = params[0]
    if stream is None:
        mems.append(Memory(first.name, "inputs", "inmem", INPUT_BITS, first.in_values,
                           memory_style(first.in_values, lutram_max_depth)))
    elif first.kind == "conv":
        mems.append(Memory(first.name, "inputs", "frame", stream.beat_bits, stream.beats,
                           memory_style(stream.beats, lutram_max_depth)))
    else:
        mems.append(Memory(first.name, "inputs", "ev_list", _clog2(first.n_in), first.n_in,
                           memory_style(first.n_in, lutram_max_depth)))
    for prm in params:
        inst = f"u_{prm.name}"
        mems.append(Memory(prm.name, "weights", f"{inst}.wrom", prm.p * prm.w, prm.groups * prm.n_in * prm.weight_sets,
                           prm.wstyle))
        mems.append(Memory(prm.name, "scales", f"{inst}.srom", prm.scale_units * prm.p * prm.mb,
                           prm.groups * prm.weight_sets, prm.sstyle))
        if prm.neuron:
            mems.append(Memory(prm.name, "thresholds", f"{inst}.th.trom", prm.tw, prm.nthr, prm.tstyle))
        if prm.kind == "conv":
            mems.append(Memory(prm.name, "membranes", f"{inst}.mram", prm.p * prm.state_bits, prm.membrane_depth,
                               prm.mstyle))
            depth = prm.out_values
            mems.append(Memory(prm.name, "spikes", f"{prm.name}_map", prm.out_value_bits, depth,
                               memory_style(depth, lutram_max_depth)))
        else:
            mems.append(Memory(prm.name, "membranes", f"{inst}.sram", prm.p * prm.state_bits, prm.groups, prm.mstyle))
            if not prm.readout:
                mems.append(Memory(prm.name, "spikes", f"{prm.name}_spikes", _clog2(prm.n_out), prm.n_out,
                                   memory_style(prm.n_out, lutram_max_depth)))
    return mems


def _w(bits: int) -> str:
    return f"[{bits - 1}:0] "


def _frame_intake(nb: int, reads: list[str], on_beat: list[str], resets: tuple[str, ...] | list[str] = (),
                  other: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The event input stage's always block: `reads` every cycle; in_start clears the beat count
    (and `resets`); while busy, a taken beat runs `on_beat` and counts, then the `other` branches
    (each opened with `end else if`), and after beat nb the frame is done."""
    return [
        "    always @(posedge clk) begin",
        *reads,
        "        in_done <= 1'b0;",
        "        if (rst) in_busy <= 1'b0;",
        "        else if (in_start) begin",
        "            in_busy <= 1'b1;",
        "            beat <= 0;",
        *resets,
        "        end else if (in_busy) begin",
        "            if (s_valid && s_ready) begin",
        *on_beat,
        "                beat <= beat + 1;",
        *other,
        f"            end else if (beat == {nb}) begin",
        "                in_busy <= 1'b0;",
        "                in_done <= 1'b1;",
        "            end",
        "        end",
        "    end",
        "",
    ]


def top_verilog(net: IntegerNetwork, params: list[LayerParameters], lutram_max_depth: int = LUTRAM_MAX_DEPTH,
                stream: EventInput | None = None) -> str:
    """The top module: layer 0's input (static buffer, or event stream into an event list or a
    frame memory), the layers, the memories between them, the T-step sequencer and the argmax."""
    first, readout = params[0], params[-1]
    t_bits = _clog2(net.timesteps)
    lw = readout.racc + readout.mb + 1
    cls_bits = _clog2(readout.n_out)
    events = stream is not None
    shapes = " -> ".join(
        f"conv{p.n_out}x{p.height}x{p.width}{['', ' max', ' avg'][p.pool]}" if p.kind == "conv" else str(p.n_out)
        for p in params
    )
    lines = [
        "// Generated by snn-dse (dse/hardware/verilog_template.py): do not edit.",
        f"// Network: input {tuple(net.input_shape)} ({'event frames' if events else 'static'}) -> {shapes}, "
        f"T = {net.timesteps}.",
        "`default_nettype none",
        f"module {TOP_MODULE} (",
        "    input wire clk,",
        "    input wire rst,",
    ]
    if events:
        lines += [
            f"    // event input: one binary frame per timestep, {stream.beats} beats of {stream.beat_bits} pixels",
            "    input wire s_valid,",
            "    output wire s_ready,",
            f"    input wire {_w(stream.beat_bits)}s_data,",
        ]
    else:
        lines += [
            "    input wire in_we,                       // write one input code",
            f"    input wire {_w(_clog2(first.in_values))}in_waddr,",
            f"    input wire {_w(INPUT_BITS)}in_wdata,           // unsigned code 0..255",
            "    input wire start,                       // pulse: run T timesteps on the stored inputs",
        ]
    lines += [
        "    output reg done,                        // pulse: inference finished, pred valid",
        f"    output reg {_w(cls_bits)}pred,              // argmax of the logits (ties: lowest index)",
        f"    output reg {_w(t_bits)}t,",
        "    output wire res_valid,",
        f"    output wire {_w(_clog2(readout.groups))}res_group,",
        f"    output wire {_w(readout.p * readout.racc)}res_sum,",
        f"    output wire {_w(readout.p * lw)}res_logit",
        ");",
        f"    localparam integer T = {net.timesteps};",
        "    wire first_step = (t == 0);",
        "    wire last_step = (t == T - 1);",
        "",
    ]
    fname = first.name
    if not events:
        lines += [
            "    // input code buffer of layer 0",
            f'    (* ram_style = "{memory_style(first.in_values, lutram_max_depth)}" *) '
            f"reg {_w(INPUT_BITS)}inmem [0:{first.in_values - 1}];",
            f"    wire {_w(_clog2(first.in_values))}{fname}_raddr;",
            f"    reg {_w(INPUT_BITS + 1)}{fname}_rdata;  // unsigned code, zero-extended for the signed multiplier",
            "    always @(posedge clk) begin",
            "        if (in_we) inmem[in_waddr] <= in_wdata;",
            f"        {fname}_rdata <= {{1'b0, inmem[{fname}_raddr]}};",
            "    end",
            "",
        ]
    else:
        nb, fw = stream.beats, stream.beat_bits
        lf = int(math.log2(fw))
        nbw = _clog2(nb + 1)
        last_mask = (1 << (stream.n_pixels - (nb - 1) * fw)) - 1
        lines += [
            "    // event input stage: takes the frame of timestep t (ready only while it is taken)",
            "    reg in_start, in_busy, in_done;",
            f"    reg {_w(nbw)}beat;",
            f"    wire {_w(fw)}beat_mask = (beat == {nb - 1}) ? {fw}'h{last_mask:x} : {{{fw}{{1'b1}}}};",
        ]
        if first.kind == "conv":
            fa = _clog2(nb)
            word_addr = f"{fname}_raddr[{_clog2(first.in_values) - 1}:{lf}]" if nb > 1 else "1'b0"
            lines += [
                f'    (* ram_style = "{memory_style(nb, lutram_max_depth)}" *) reg {_w(fw)}frame [0:{nb - 1}];',
                f"    wire {_w(_clog2(first.in_values))}{fname}_raddr;",
                f"    reg {_w(fw)}frame_word;",
                f"    reg {_w(max(lf, 1))}frame_sel;",
                f"    wire {fname}_rdata = frame_word[frame_sel];",
                f"    assign s_ready = in_busy && (beat < {nb});",
            ]
            lines += _frame_intake(
                nb,
                reads=[f"        frame_word <= frame[{word_addr}];", f"        frame_sel <= {fname}_raddr[{lf - 1}:0];"],
                on_beat=[f"                frame[beat[{fa - 1}:0]] <= s_data & beat_mask;"],
            )
        else:
            iaw = _clog2(first.n_in)
            bw = _clog2(nb * fw)
            lines += [
                "    // the frame's events become layer 0's event list (lowest pixel first, one a cycle)",
                f'    (* ram_style = "{memory_style(first.n_in, lutram_max_depth)}" *) '
                f"reg {_w(iaw)}ev_list [0:{first.n_in - 1}];",
                f"    reg {_w(_clog2(first.n_in + 1))}ev_count;",
                f"    reg {_w(fw)}bits;",
                f"    reg {_w(bw)}bbase;",
                f"    reg {_w(max(lf, 1))}low_bit;",
                "    integer lb;",
                "    always @* begin",
                "        low_bit = 0;",
                f"        for (lb = {fw - 1}; lb >= 0; lb = lb - 1) if (bits[lb]) low_bit = lb;",
                "    end",
                f"    wire {_w(bw)}ev_index = bbase + low_bit;",
                f"    assign s_ready = in_busy && (bits == 0) && (beat < {nb});",
                f"    wire {_w(iaw)}{fname}_raddr;",
                f"    reg {_w(iaw)}{fname}_rdata;",
            ]
            lines += _frame_intake(
                nb,
                reads=[f"        {fname}_rdata <= ev_list[{fname}_raddr];"],
                resets=["            bits <= 0;", "            ev_count <= 0;"],
                on_beat=["                bits <= s_data & beat_mask;", f"                bbase <= beat * {fw};"],
                other=[
                    "            end else if (bits != 0) begin",
                    f"                ev_list[ev_count] <= ev_index[{iaw - 1}:0];",
                    "                ev_count <= ev_count + 1;",
                    "                bits <= bits & (bits - 1);",
                ],
            )
    for i, prm in enumerate(params):
        name = prm.name
        lines += [f"    reg {name}_start;", f"    wire {name}_done;"]
        if prm.kind == "conv":
            ph, pw = prm.pooled_hw
            lines += [
                f"    wire {name}_out_we, {name}_sp_we;",
                f"    wire {_w(_clog2(prm.out_values))}{name}_out_addr;",
                f"    wire {_w(prm.out_value_bits)}{name}_out_data;",
                f"    wire {_w(_clog2(prm.n_neurons))}{name}_sp_idx;",
            ]
        else:
            lines += [f"    wire {name}_out_we;", f"    wire {_w(_clog2(prm.n_out))}{name}_out_idx;"]
        rd_bits = prm.input_data_bits
        if i > 0:
            prev = params[i - 1]
            raddr_bits = _clog2(prm.in_values)
            if prev.kind == "conv":
                vb = prev.out_value_bits
                depth = prev.out_values
                ext = f"{{{rd_bits - vb}'b0, {prev.name}_map[{name}_raddr]}}" if rd_bits > vb \
                    else f"{prev.name}_map[{name}_raddr]"
                lines += [
                    f"    // output map of {prev.name} ({'pooled ' if prev.pool else ''}c, y, x), read by {name}",
                    f'    (* ram_style = "{memory_style(depth, lutram_max_depth)}" *) '
                    f"reg {_w(vb)}{prev.name}_map [0:{depth - 1}];",
                    f"    wire {_w(raddr_bits)}{name}_raddr;",
                    f"    reg {_w(rd_bits)}{name}_rdata;",
                    "    always @(posedge clk) begin",
                    f"        if ({prev.name}_out_we) {prev.name}_map[{prev.name}_out_addr] <= {prev.name}_out_data;",
                    f"        {name}_rdata <= {ext};",
                    "    end",
                ]
            else:
                ew = _clog2(prev.n_out + 1)
                lines += [
                    f"    // spike buffer: event list written by {prev.name}, read by {name}",
                    f'    (* ram_style = "{memory_style(prev.n_out, lutram_max_depth)}" *) '
                    f"reg {_w(_clog2(prev.n_out))}{prev.name}_spikes [0:{prev.n_out - 1}];",
                    f"    reg {_w(ew)}{prev.name}_count;",
                    f"    wire {_w(raddr_bits)}{name}_raddr;",
                    f"    reg {_w(_clog2(prev.n_out))}{name}_rdata;",
                    "    always @(posedge clk) begin",
                    f"        if ({prev.name}_start) {prev.name}_count <= 0;",
                    f"        else if ({prev.name}_out_we) begin",
                    f"            {prev.name}_spikes[{prev.name}_count] <= {prev.name}_out_idx;",
                    f"            {prev.name}_count <= {prev.name}_count + 1;",
                    "        end",
                    f"        {name}_rdata <= {prev.name}_spikes[{name}_raddr];",
                    "    end",
                ]
        if prm.kind == "conv":
            lines += [
                "    snn_conv #(",
                f"        {_param_list(prm.verilog())}",
                f"    ) u_{name} (",
                f"        .clk(clk), .rst(rst), .start({name}_start), .first_step(first_step), .tstep(t),",
                f"        .in_raddr({name}_raddr), .in_rdata({name}_rdata),",
                f"        .out_we({name}_out_we), .out_addr({name}_out_addr), .out_data({name}_out_data),",
                f"        .sp_we({name}_sp_we), .sp_idx({name}_sp_idx),",
                f"        .done({name}_done)",
                "    );",
                "",
            ]
            continue
        if i == 0:
            in_count = "ev_count" if events else f"{_clog2(prm.n_in + 1)}'d0"
        elif params[i - 1].kind == "conv":
            in_count = f"{_clog2(prm.n_in + 1)}'d0"  # dense: every map value
        else:
            in_count = f"{params[i - 1].name}_count"
        res = (
            "        .res_valid(res_valid), .res_group(res_group), .res_sum(res_sum), .res_logit(res_logit),"
            if prm.readout else "        .res_valid(), .res_group(), .res_sum(), .res_logit(),"
        )
        lines += [
            "    snn_layer #(",
            f"        {_param_list(prm.verilog())}",
            f"    ) u_{name} (",
            f"        .clk(clk), .rst(rst), .start({name}_start), .first_step(first_step), .last_step(last_step), "
            ".tstep(t),",
            f"        .in_count({in_count}), .in_raddr({name}_raddr), .in_rdata({name}_rdata),",
            f"        .out_we({name}_out_we), .out_idx({name}_out_idx),",
            res,
            f"        .done({name}_done)",
            "    );",
            "",
        ]
    # argmax over the readout's results (groups in order, lanes lowest first; strict > keeps the lowest index)
    rp = readout.p
    lines += [
        "    // argmax of the logits as they arrive (ties go to the lowest class index)",
        f"    reg signed {_w(lw)}best;",
        f"    reg signed {_w(lw)}am_best;",
        f"    reg {_w(cls_bits)}am_idx;",
        "    integer am;",
        "    always @* begin",
        "        am_best = best;",
        "        am_idx = pred;",
        f"        for (am = 0; am < {rp}; am = am + 1)",
        f"            if (res_group * {rp} + am < {readout.n_out})",
        f"                if ((res_group == 0 && am == 0) || $signed(res_logit[am*{lw} +: {lw}]) > am_best) begin",
        f"                    am_best = $signed(res_logit[am*{lw} +: {lw}]);",
        f"                    am_idx = res_group * {rp} + am;",
        "                end",
        "    end",
        "    always @(posedge clk) if (res_valid) begin",
        "        best <= am_best;",
        "        pred <= am_idx;",
        "    end",
        "",
        "    // sequencer: per timestep "
        + ("the input stage takes frame t, then " if events else "")
        + "layer i starts when layer i-1 is done; T timesteps",
    ]
    if events:
        lines += ["    reg started;"]
    lines += ["    always @(posedge clk) begin", "        done <= 1'b0;"]
    lines += [f"        {p.name}_start <= 1'b0;" for p in params]
    if events:
        lines += [
            "        in_start <= 1'b0;",
            "        if (rst) begin",
            "            t <= 0;",
            "            started <= 1'b0;",
            "        end else if (!started) begin  // after reset: take frame 0 of the first inference",
            "            started <= 1'b1;",
            "            in_start <= 1'b1;",
            "        end",
            f"        if (in_done) {first.name}_start <= 1'b1;",
        ]
        next_step = "in_start"
    else:
        lines += [
            "        if (rst) t <= 0;",
            "        else if (start) begin",
            "            t <= 0;",
            f"            {first.name}_start <= 1'b1;",
            "        end",
        ]
        next_step = f"{first.name}_start"
    for prev, prm in zip(params, params[1:]):
        lines.append(f"        if ({prev.name}_done) {prm.name}_start <= 1'b1;")
    lines += [
        f"        if ({readout.name}_done) begin",
        "            if (last_step) begin",
        "                done <= 1'b1;",
        "                t <= 0;",
    ]
    if events:
        lines.append("                in_start <= 1'b1;  // frame 0 of the next inference")
    lines += [
        "            end else begin",
        "                t <= t + 1;",
        f"                {next_step} <= 1'b1;",
        "            end",
        "        end",
        "    end",
        "endmodule",
        "`default_nettype wire",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class VerilogDesign:
    """Everything the export writes: file name -> text, the per-layer parameters, the event
    stream format (None: static input) and every memory declared."""

    files: dict[str, str]
    params: list[LayerParameters]
    stream: EventInput | None = None
    memories: list[Memory] = field(default_factory=list)
    timesteps: int = 0

    @property
    def sources(self) -> list[str]:
        """The Verilog source files, top last (yosys: read_verilog -defer <sources>)."""
        return [name for name in ("snn_layer.v", "snn_conv.v") if name in self.files] + [f"{TOP_MODULE}.v"]


def verilog_design(net: IntegerNetwork, lutram_max_depth: int = LUTRAM_MAX_DEPTH,
                   beat_bits: int | None = None) -> VerilogDesign:
    """Build (in memory) the Verilog sources and memory images of a network; nothing is written."""
    params = layer_parameters(net, lutram_max_depth)
    stream = event_input(net, beat_bits)
    files = {"snn_layer.v": LAYER_SOURCE.read_text()}
    if any(p.kind == "conv" for p in params):
        files["snn_conv.v"] = CONV_SOURCE.read_text()
    files[f"{TOP_MODULE}.v"] = top_verilog(net, params, lutram_max_depth, stream)
    for layer, prm in zip(net.layers, params):
        files[prm.wmem] = "\n".join(weight_mem_lines(layer, prm)) + "\n"
        files[prm.smem] = "\n".join(scale_mem_lines(layer, prm)) + "\n"
        if prm.neuron:
            files[prm.tmem] = "\n".join(threshold_mem_lines(layer, prm)) + "\n"
    return VerilogDesign(files, params, stream, design_memories(params, stream, lutram_max_depth), net.timesteps)


def write_design(design: VerilogDesign, out_dir: str | Path) -> list[Path]:
    """Write every file of the design into out_dir (each atomically: temporary file, then rename)."""
    from dse.files import write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_text(out / name, text) for name, text in design.files.items()]
