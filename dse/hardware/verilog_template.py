"""The project's FPGA template as Verilog: per-layer parameters, memory images and the top module.

An IntegerNetwork (dse/export/integer_network.py) becomes one `snn_layer` instance per weight
layer (dse/hardware/verilog/snn_layer.v) chained by spike buffers in `snn_top`. Every Verilog
parameter comes from the quantities the cost model uses (cost_models/fpga.py): P, W, membrane
bits, the per-timestep accumulator width, the readout accumulator width, the 17-bit scale
codes M_i, and each memory's style from the LUTRAM depth rule. Refusals are one-line UserErrors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cost_models.fpga import (
    LUTRAM_MAX_DEPTH, SCALE_CODE_BITS, groups, memory_style, timestep_acc_bits,
)
from cost_models.network import INPUT_BITS, accumulator_bits
from dse.errors import UserError
from dse.export.integer_network import ODD_LEVELS, TWOS_COMPLEMENT, IntegerLayer, IntegerNetwork

VERILOG_DIR = Path(__file__).with_name("verilog")
LAYER_SOURCE = VERILOG_DIR / "snn_layer.v"
TOP_MODULE = "snn_top"
LUT_MULT_MAX_BITS = 4  # cost_models/fpga.py: layer 0's W <= 4 multipliers are LUTs, wider ones DSPs


@dataclass(frozen=True)
class LayerParameters:
    """The Verilog parameters of one `snn_layer` instance (names as in snn_layer.v)."""

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

    @property
    def groups(self) -> int:
        return groups(self.n_out, self.p)

    @property
    def wmem(self) -> str:
        return f"verilog_{self.name}_weights.mem"

    @property
    def smem(self) -> str:
        return f"verilog_{self.name}_scales.mem"

    def verilog(self) -> dict[str, int | str]:
        """Parameter name -> value for the instance."""
        return {
            "N_IN": self.n_in, "N_OUT": self.n_out, "P": self.p, "W": self.w, "ENC": self.enc,
            "DENSE": self.dense, "A": self.a, "LUT_MULT": self.lut_mult, "READOUT": self.readout,
            "B": self.b, "ACC": self.acc, "RACC": self.racc, "MB": self.mb, "F": self.f, "K": self.k,
            "WMEM": self.wmem, "SMEM": self.smem, "WSTYLE": self.wstyle, "SSTYLE": self.sstyle,
            "MSTYLE": self.mstyle,
        }


def rom_style(depth: int, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> str:
    """rom_style of a ROM: 'block' when deeper than the LUTRAM limit, else 'auto' (LUT logic:
    yosys 0.23 finds no LUTRAM mapping for a ROM styled 'distributed')."""
    return "block" if memory_style(depth, lutram_max_depth) == "block" else "auto"


def _refuse(layer: IntegerLayer, problem: str) -> UserError:
    return UserError(f"{layer.name}: {problem}")


def layer_parameters(net: IntegerNetwork, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> list[LayerParameters]:
    """Verilog parameters of every layer; UserError (one line) for what the template cannot express."""
    layers = net.layers
    if len(layers) < 2 or layers[-1].spiking or not all(l.spiking for l in layers[:-1]):
        raise UserError("the Verilog template needs one or more spiking layers followed by one non-spiking readout")
    if getattr(net, "input_kind", "static") != "static":
        raise UserError(f"{net.input_kind} input: the Verilog template's input buffer holds one static input for all T "
                        "steps; accepted: networks of static inputs (digits, npz images)")
    out: list[LayerParameters] = []
    for i, layer in enumerate(layers):
        if layer.kind != "linear":
            raise _refuse(layer, f"{layer.kind} layers are not in the Verilog template; accepted: fully connected (mlp) networks")
        if layer.weight_encoding not in (TWOS_COMPLEMENT, ODD_LEVELS):
            raise _refuse(layer, f"weight encoding {layer.weight_encoding!r}; accepted: {TWOS_COMPLEMENT}, {ODD_LEVELS}")
        m = np.asarray(layer.multiplier, dtype=np.int64)
        if m.size and (int(m.min()) < 0 or int(m.max()) >= 2**SCALE_CODE_BITS):
            need = int(np.abs(m).max()).bit_length()
            raise _refuse(layer, f"multipliers M_i need {need} bits; the template's scale multiplier takes "
                                 f"0 <= M_i < 2^{SCALE_CODE_BITS} (export with scale bits 'auto')")
        w = int(layer.weight_bits)
        if not 1 <= w <= 16:
            raise _refuse(layer, f"{w}-bit weights; accepted: 1..16 bits")
        n_out, n_in = int(layer.codes.shape[0]), int(layer.codes.shape[1])
        p = int(layer.parallelism)
        if p < 1:
            raise _refuse(layer, f"parallelism {p}; accepted: 1 or more units")
        dense = i == 0
        a = INPUT_BITS if dense else 1
        spiking = bool(layer.spiking)
        if spiking:
            b, k = int(layer.membrane_bits or 0), int(layer.leak_shift if layer.leak_shift is not None else -1)
            if not 2 <= b <= 24:
                raise _refuse(layer, f"membrane bits {b}; accepted: 2..24")
            if k < 0:
                raise _refuse(layer, "no leak shift (tau must be a power of two)")
            if layer.threshold_lsb != 2 ** (b - 2):
                raise _refuse(layer, f"threshold {layer.threshold_lsb} LSBs; the template fires at 2^(b-2) = {2 ** (b - 2)}")
        else:
            b, k = 2, 0
        n_groups = groups(n_out, p)
        out.append(LayerParameters(
            name=layer.name, n_in=n_in, n_out=n_out, p=p, w=w, enc=int(layer.weight_encoding == ODD_LEVELS),
            dense=int(dense), a=a, lut_mult=int(dense and w <= LUT_MULT_MAX_BITS), readout=int(not spiking),
            b=b, acc=timestep_acc_bits(w, n_in, a), racc=accumulator_bits(w, n_in, net.timesteps),
            mb=SCALE_CODE_BITS, f=int(layer.scale_bits), k=k,
            wstyle=rom_style(n_groups * n_in, lutram_max_depth), sstyle=rom_style(n_groups, lutram_max_depth),
            mstyle=memory_style(n_groups, lutram_max_depth),
        ))
    return out


def _hex_width(bits: int) -> int:
    return max(1, math.ceil(bits / 4))


def stored_codes(layer: IntegerLayer) -> np.ndarray:
    """The unsigned W-bit words stored for the codes q (two's complement, or j = (q + 2^W - 1) / 2)."""
    q = np.asarray(layer.codes, dtype=np.int64)
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
    at bits [u W +: W]; padding units of the last group hold code 0 (two's) or j 0 (odd)."""
    codes = stored_codes(layer)
    p, w = params.p, params.w
    padded = np.zeros((params.groups * p, params.n_in), dtype=object)
    if params.enc:
        padded[:] = 0  # j = 0 is q = -(2^W - 1): padding neurons get M = 0 and never spike
    padded[: params.n_out] = codes.astype(object)
    lines = []
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
    """$readmemh lines of the scale ROM: word g holds M of neuron g P + u at bits [u MB +: MB]."""
    m = [int(v) for v in np.asarray(layer.multiplier).tolist()] + [0] * (params.groups * params.p - params.n_out)
    digits = _hex_width(params.p * params.mb)
    lines = []
    for g in range(params.groups):
        word = 0
        for u in range(params.p):
            word |= m[g * params.p + u] << (u * params.mb)
        lines.append(f"{word:0{digits}x}")
    return lines


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _param_list(values: dict[str, int | str]) -> str:
    items = []
    for key, value in values.items():
        items.append(f".{key}({value})" if isinstance(value, int) else f'.{key}("{value}")')
    return ",\n        ".join(items)


def top_verilog(net: IntegerNetwork, params: list[LayerParameters], lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> str:
    """The top module: input code buffer, layers, spike buffers (event lists) and the T-step sequencer."""
    first, readout = params[0], params[-1]
    t_bits = _clog2(net.timesteps)
    lines = [
        "// Generated by snn-dse (dse/hardware/verilog_template.py): do not edit.",
        f"// Network: {' -> '.join(str(p.n_in) for p in params)} -> {readout.n_out}, T = {net.timesteps}.",
        "`default_nettype none",
        f"module {TOP_MODULE} (",
        "    input wire clk,",
        "    input wire rst,",
        "    input wire in_we,                       // write one input code",
        f"    input wire [{_clog2(first.n_in) - 1}:0] in_waddr,",
        f"    input wire [{first.a - 1}:0] in_wdata,",
        "    input wire start,                       // pulse: run T timesteps on the stored inputs",
        "    output reg done,                        // pulse: readout results all delivered",
        f"    output reg [{t_bits - 1}:0] t,",
        "    output wire res_valid,",
        f"    output wire [{_clog2(readout.groups) - 1}:0] res_group,",
        f"    output wire [{readout.p * readout.racc - 1}:0] res_sum,",
        f"    output wire [{readout.p * (readout.racc + readout.mb + 1) - 1}:0] res_logit",
        ");",
        f"    localparam integer T = {net.timesteps};",
        "    wire first_step = (t == 0);",
        "    wire last_step = (t == T - 1);",
        "",
        "    // input code buffer of layer 0",
        f'    (* ram_style = "{memory_style(first.n_in, lutram_max_depth)}" *) '
        f"reg [{first.a - 1}:0] inmem [0:{first.n_in - 1}];",
        f"    wire [{_clog2(first.n_in) - 1}:0] {first.name}_raddr;",
        f"    reg [{first.a - 1}:0] {first.name}_rdata;",
        "    always @(posedge clk) begin",
        "        if (in_we) inmem[in_waddr] <= in_wdata;",
        f"        {first.name}_rdata <= inmem[{first.name}_raddr];",
        "    end",
        "",
    ]
    for i, prm in enumerate(params):
        name = prm.name
        lines += [
            f"    reg {name}_start;",
            f"    wire {name}_done, {name}_out_we;",
            f"    wire [{_clog2(prm.n_out) - 1}:0] {name}_out_idx;",
        ]
        if i > 0:
            prev = params[i - 1]
            ew = _clog2(prev.n_out + 1)
            lines += [
                f"    // spike buffer: event list written by {prev.name}, read by {name}",
                f'    (* ram_style = "{memory_style(prev.n_out, lutram_max_depth)}" *) '
                f"reg [{_clog2(prev.n_out) - 1}:0] {prev.name}_spikes [0:{prev.n_out - 1}];",
                f"    reg [{ew - 1}:0] {prev.name}_count;",
                f"    wire [{_clog2(prm.n_in) - 1}:0] {name}_raddr;",
                f"    reg [{_clog2(prev.n_out) - 1}:0] {name}_rdata;",
                "    always @(posedge clk) begin",
                f"        if ({prev.name}_start) {prev.name}_count <= 0;",
                f"        else if ({prev.name}_out_we) begin",
                f"            {prev.name}_spikes[{prev.name}_count] <= {prev.name}_out_idx;",
                f"            {prev.name}_count <= {prev.name}_count + 1;",
                "        end",
                f"        {name}_rdata <= {prev.name}_spikes[{name}_raddr];",
                "    end",
            ]
        in_count = f"{params[i - 1].name}_count" if i > 0 else f"{max(1, prm.n_in.bit_length())}'d0"
        res = (
            "        .res_valid(res_valid), .res_group(res_group), .res_sum(res_sum), .res_logit(res_logit),"
            if prm.readout else "        .res_valid(), .res_group(), .res_sum(), .res_logit(),"
        )
        lines += [
            f"    snn_layer #(",
            f"        {_param_list(prm.verilog())}",
            f"    ) u_{name} (",
            f"        .clk(clk), .rst(rst), .start({name}_start), .first_step(first_step), .last_step(last_step),",
            f"        .in_count({in_count}), .in_raddr({name}_raddr), .in_rdata({name}_rdata),",
            f"        .out_we({name}_out_we), .out_idx({name}_out_idx),",
            res,
            f"        .done({name}_done)",
            "    );",
            "",
        ]
    lines += [
        "    // sequencer: layer i starts when layer i-1 is done; T timesteps, layers one after another",
        "    always @(posedge clk) begin",
        "        done <= 1'b0;",
    ]
    lines += [f"        {p.name}_start <= 1'b0;" for p in params]
    lines += [
        "        if (rst) t <= 0;",
        "        else if (start) begin",
        "            t <= 0;",
        f"            {first.name}_start <= 1'b1;",
        "        end",
    ]
    for prev, prm in zip(params, params[1:]):
        lines.append(f"        if ({prev.name}_done) {prm.name}_start <= 1'b1;")
    lines += [
        f"        if ({readout.name}_done) begin",
        "            if (last_step) begin",
        "                done <= 1'b1;",
        "                t <= 0;",
        "            end else begin",
        "                t <= t + 1;",
        f"                {first.name}_start <= 1'b1;",
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
    """Everything the export writes: file name -> text, and the per-layer parameters."""

    files: dict[str, str]
    params: list[LayerParameters]


def verilog_design(net: IntegerNetwork, lutram_max_depth: int = LUTRAM_MAX_DEPTH) -> VerilogDesign:
    """Build (in memory) the Verilog sources and memory images of a network; nothing is written."""
    params = layer_parameters(net, lutram_max_depth)
    files = {"snn_layer.v": LAYER_SOURCE.read_text(), f"{TOP_MODULE}.v": top_verilog(net, params, lutram_max_depth)}
    for layer, prm in zip(net.layers, params):
        files[prm.wmem] = "\n".join(weight_mem_lines(layer, prm)) + "\n"
        files[prm.smem] = "\n".join(scale_mem_lines(layer, prm)) + "\n"
    return VerilogDesign(files, params)


def write_design(design: VerilogDesign, out_dir: str | Path) -> list[Path]:
    """Write every file of the design into out_dir (each atomically: temporary file, then rename)."""
    from dse.files import write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_text(out / name, text) for name, text in design.files.items()]
