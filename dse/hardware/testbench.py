"""Run the exported Verilog on a batch of inputs with Icarus Verilog and read back spikes and sums.

The testbench writes each sample's input codes into the top module, pulses start, and prints one
line per output spike (`S sample layer t neuron`), per readout result (`R sample class sum logit`)
and per sample its cycle count (`C sample cycles`). `simulate_verilog` compiles with
`iverilog -g2012`, runs `vvp` and parses those lines into arrays shaped like dse/integer_sim.py's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.errors import UserError
from dse.hardware.verilog_template import TOP_MODULE, LayerParameters, VerilogDesign, write_design

TESTBENCH = "tb_snn.v"
INPUTS = "tb_inputs.mem"
_LINE = re.compile(r"^([SRC]) (.*)$")


def iverilog_available() -> bool:
    """Whether iverilog and vvp are on PATH."""
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def testbench_verilog(params: list[LayerParameters], n_samples: int, timesteps: int, max_cycles: int) -> str:
    """The testbench module: feeds INPUTS, dumps spikes, readout sums/logits and cycles."""
    first, readout = params[0], params[-1]
    n_in = first.n_in
    lw = readout.racc + readout.mb + 1
    spikes = []
    for i, prm in enumerate(params[:-1]):
        spikes.append(
            f"        if (dut.{prm.name}_out_we) $fwrite(fd, \"S %0d {i} %0d %0d\\n\", s, dut.t, dut.{prm.name}_out_idx);"
        )
    return "\n".join([
        "`timescale 1ns/1ps",
        "module tb;",
        "    reg clk = 0, rst = 1, in_we = 0, start = 0;",
        f"    reg [{max(1, (n_in - 1).bit_length()) - 1}:0] in_waddr = 0;",
        f"    reg [{first.a - 1}:0] in_wdata = 0;",
        "    wire done, res_valid;",
        f"    wire [{max(1, (timesteps - 1).bit_length()) - 1}:0] t;",
        f"    wire [{max(1, (readout.groups - 1).bit_length()) - 1}:0] res_group;",
        f"    wire [{readout.p * readout.racc - 1}:0] res_sum;",
        f"    wire [{readout.p * lw - 1}:0] res_logit;",
        f"    {TOP_MODULE} dut(.clk(clk), .rst(rst), .in_we(in_we), .in_waddr(in_waddr), .in_wdata(in_wdata),",
        "        .start(start), .done(done), .t(t), .res_valid(res_valid), .res_group(res_group),",
        "        .res_sum(res_sum), .res_logit(res_logit));",
        f"    reg [{first.a - 1}:0] codes [0:{n_samples * n_in - 1}];",
        "    integer fd, s, j, u, cycles, total;",
        "    always #5 clk = ~clk;",
        "    always @(posedge clk) begin",
        *spikes,
        "        if (res_valid) begin",
        f"            for (u = 0; u < {readout.p}; u = u + 1)",
        f"                if (res_group * {readout.p} + u < {readout.n_out})",
        "                    $fwrite(fd, \"R %0d %0d %0d %0d\\n\", s, res_group * "
        f"{readout.p} + u, $signed(res_sum[u*{readout.racc} +: {readout.racc}]), $signed(res_logit[u*{lw} +: {lw}]));",
        "        end",
        "    end",
        "    initial begin",
        f"        $readmemh(\"{INPUTS}\", codes);",
        "        fd = $fopen(\"tb_out.txt\", \"w\");",
        "        s = 0;",
        "        repeat (3) @(posedge clk);",
        "        rst <= 0;",
        f"        for (s = 0; s < {n_samples}; s = s + 1) begin",
        f"            for (j = 0; j < {n_in}; j = j + 1) begin",
        "                @(posedge clk);",
        "                in_we <= 1; in_waddr <= j;",
        f"                in_wdata <= codes[s * {n_in} + j];",
        "            end",
        "            @(posedge clk); in_we <= 0; start <= 1;",
        "            @(posedge clk); start <= 0;",
        "            cycles = 1;",
        f"            while (!done && cycles < {max_cycles}) begin @(posedge clk); cycles = cycles + 1; end",
        "            @(posedge clk);",
        "            $fwrite(fd, \"C %0d %0d\\n\", s, cycles);",
        "        end",
        "        $fclose(fd);",
        "        $finish;",
        "    end",
        "endmodule",
        "",
    ])


@dataclass
class VerilogRun:
    """What the Verilog produced: spikes per spiking layer [T, B, n] (uint8), readout sums and
    logits [B, classes] (Python ints), cycles per sample."""

    spikes: list[np.ndarray]
    readout_sums: np.ndarray
    logits: np.ndarray
    cycles: np.ndarray


def _input_lines(codes: np.ndarray, bits: int) -> list[str]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if codes.size and (int(codes.min()) < lo or int(codes.max()) > hi):
        raise UserError(f"input codes {int(codes.min())}..{int(codes.max())} do not fit the template's {bits}-bit signed inputs")
    digits = max(1, -(-bits // 4))
    return [f"{int(c) & (2**bits - 1):0{digits}x}" for c in codes.reshape(-1)]


def simulate_verilog(design: VerilogDesign, codes: np.ndarray, timesteps: int, workdir: str | Path | None = None,
                     timeout_s: float = 600.0) -> VerilogRun:
    """Compile and run the design on integer input codes [B, ...] and parse its output."""
    if not iverilog_available():
        raise UserError("iverilog/vvp not found on PATH; install Icarus Verilog (Debian: apt-get install iverilog)")
    params = design.params
    batch = int(codes.shape[0])
    flat = np.asarray(codes, dtype=np.int64).reshape(batch, -1)
    if flat.shape[1] != params[0].n_in:
        raise UserError(f"inputs have {flat.shape[1]} values per sample; the design takes {params[0].n_in}")
    # generous bound on cycles per sample: every input event for every group, every spike, per step
    per_step = sum(p.groups * (p.n_in + 8) + p.n_out for p in params)
    max_cycles = timesteps * per_step * 2 + 100
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        write_design(design, folder)
        (folder / INPUTS).write_text("\n".join(_input_lines(flat, params[0].a)) + "\n")
        (folder / TESTBENCH).write_text(testbench_verilog(params, batch, timesteps, max_cycles))
        sources = [TESTBENCH, f"{TOP_MODULE}.v", "snn_layer.v"]
        compiled = subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", *sources], cwd=folder,
                                  capture_output=True, text=True, timeout=timeout_s)
        if compiled.returncode != 0:
            raise RuntimeError(f"iverilog failed: {compiled.stderr.strip()}")
        ran = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=folder, capture_output=True, text=True, timeout=timeout_s)
        if ran.returncode != 0:
            raise RuntimeError(f"vvp failed: {ran.stderr.strip() or ran.stdout.strip()}")
        text = (folder / "tb_out.txt").read_text()
    return parse_output(text, params, batch, timesteps)


def parse_output(text: str, params: list[LayerParameters], batch: int, timesteps: int) -> VerilogRun:
    """Turn the testbench's S/R/C lines into arrays."""
    spikes = [np.zeros((timesteps, batch, p.n_out), dtype=np.uint8) for p in params[:-1]]
    n_cls = params[-1].n_out
    sums = np.zeros((batch, n_cls), dtype=object)
    logits = np.zeros((batch, n_cls), dtype=object)
    cycles = np.zeros(batch, dtype=np.int64)
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        fields = [int(v) for v in m.group(2).split()]
        if m.group(1) == "S":
            s, layer, t, idx = fields
            spikes[layer][t, s, idx] = 1
        elif m.group(1) == "R":
            s, cls, total, logit = fields
            sums[s, cls], logits[s, cls] = total, logit
        else:
            cycles[fields[0]] = fields[1]
    return VerilogRun(spikes, sums, logits, cycles)
