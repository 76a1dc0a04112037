"""Run the exported Verilog on a batch of inputs with Icarus Verilog and read back spikes and sums.

Static input: the testbench writes each sample's input codes into the top module and pulses
start. Event input: it streams every sample's T frames through the valid/ready port, beat by
beat, with valid dropped on pseudo-random cycles (seeded) while the design holds ready low
whenever it is not taking a frame. It prints one line per output spike (`S sample layer t
neuron`, neuron = the flat index of the layer's unpooled output), per readout result
(`R sample class sum logit`), per inference the predicted class (`P sample class`) and its
cycle count (`C sample cycles`). `simulate_verilog` compiles with `iverilog -g2012`, runs `vvp`
and parses those lines into arrays shaped like dse/export/integer_sim.py's.
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
from dse.hardware.verilog_template import TOP_MODULE, VerilogDesign, write_design

TESTBENCH = "tb_snn.v"
INPUTS = "tb_inputs.mem"
_LINE = re.compile(r"^([SRCP]) (.*)$")


def iverilog_available() -> bool:
    """Whether iverilog and vvp are on PATH."""
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def testbench_verilog(design: VerilogDesign, n_samples: int, timesteps: int, max_cycles: int,
                      gap_percent: int = 30, seed: int = 1) -> str:
    """The testbench module: feeds INPUTS, dumps spikes, readout sums/logits, predictions and cycles."""
    params = design.params
    first, readout = params[0], params[-1]
    stream = design.stream
    lw = readout.racc + readout.mb + 1
    monitors = []
    for i, prm in enumerate(params[:-1]):
        we, idx = (f"dut.{prm.name}_sp_we", f"dut.{prm.name}_sp_idx") if prm.kind == "conv" else \
            (f"dut.{prm.name}_out_we", f"dut.{prm.name}_out_idx")
        monitors.append(f"        if ({we}) $fwrite(fd, \"S %0d {i} %0d %0d\\n\", s, dut.t, {idx});")
    head = [
        "`timescale 1ns/1ps",
        "module tb;",
        "    reg clk = 0, rst = 1;",
        "    wire done, res_valid;",
        f"    wire [{_bits(readout.n_out) - 1}:0] pred;",
        f"    wire [{_bits(timesteps) - 1}:0] t;",
        f"    wire [{_bits(readout.groups) - 1}:0] res_group;",
        f"    wire [{readout.p * readout.racc - 1}:0] res_sum;",
        f"    wire [{readout.p * lw - 1}:0] res_logit;",
        "    integer fd, s, j, u, cycles, cycle, fr, b, gap, rnd;",
        "    always #5 clk = ~clk;",
        "    initial cycle = 0;",
        "    always @(posedge clk) cycle <= cycle + 1;",
        "    always @(posedge clk) begin",
        *monitors,
        "        if (res_valid) begin",
        f"            for (u = 0; u < {readout.p}; u = u + 1)",
        f"                if (res_group * {readout.p} + u < {readout.n_out})",
        "                    $fwrite(fd, \"R %0d %0d %0d %0d\\n\", s, res_group * "
        f"{readout.p} + u, $signed(res_sum[u*{readout.racc} +: {readout.racc}]), $signed(res_logit[u*{lw} +: {lw}]));",
        "        end",
        "        if (done) $fwrite(fd, \"P %0d %0d\\n\", s, pred);",
        "    end",
    ]
    outputs = ".done(done), .pred(pred), .t(t), .res_valid(res_valid), .res_group(res_group), " \
              ".res_sum(res_sum), .res_logit(res_logit)"
    if stream is None:
        n_in = first.in_values
        body = [
            "    reg in_we = 0, start = 0;",
            f"    reg [{_bits(n_in) - 1}:0] in_waddr = 0;",
            "    reg [7:0] in_wdata = 0;",
            f"    {TOP_MODULE} dut(.clk(clk), .rst(rst), .in_we(in_we), .in_waddr(in_waddr), .in_wdata(in_wdata),",
            f"        .start(start), {outputs});",
            f"    reg [7:0] codes [0:{n_samples * n_in - 1}];",
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
            *_await_done(max_cycles, first=1),
        ]
    else:
        nb, fw = stream.beats, stream.beat_bits
        words = n_samples * timesteps * nb
        body = [
            "    reg s_valid = 0;",
            f"    reg [{fw - 1}:0] s_data = 0;",
            "    wire s_ready;",
            f"    {TOP_MODULE} dut(.clk(clk), .rst(rst), .s_valid(s_valid), .s_ready(s_ready), .s_data(s_data),",
            f"        {outputs});",
            f"    reg [{fw - 1}:0] frames [0:{words - 1}];",
            "    // the sensor: every beat of every frame of every sample, in order; valid drops on",
            f"    // about {gap_percent} % of cycles; data are held until the design takes them (ready)",
            "    initial begin",
            f"        $readmemh(\"{INPUTS}\", frames);",
            f"        rnd = {seed};",
            "        @(negedge clk);",
            "        while (rst) @(negedge clk);",
            f"        for (b = 0; b < {words}; b = b + 1) begin",
            f"            while ($unsigned($random(rnd)) % 100 < {gap_percent}) begin s_valid = 0; s_data = 0; @(negedge clk); end",
            "            s_valid = 1;",
            "            s_data = frames[b];",
            "            while (!s_ready) @(negedge clk);  // ready is seen mid-cycle: taken at the next posedge",
            "            @(negedge clk);",
            "        end",
            "        s_valid = 0;",
            "    end",
            "    initial begin",
            "        fd = $fopen(\"tb_out.txt\", \"w\");",
            "        s = 0;",
            "        repeat (3) @(posedge clk);",
            "        rst <= 0;",
            f"        for (s = 0; s < {n_samples}; s = s + 1) begin",
            *_await_done(max_cycles, first=0),
        ]
    return "\n".join(head + body + _cycle_counter(stream is not None) + ["endmodule", ""])


def _await_done(max_cycles: int, first: int) -> list[str]:
    """The end of a sample's loop body and of the stimulus: wait for done (at most max_cycles, counting
    from `first`), one more edge, and after the last sample close tb_out.txt and finish."""
    return [
        f"            cycles = {first};",
        f"            while (!done && cycles < {max_cycles}) begin @(posedge clk); cycles = cycles + 1; end",
        "            @(posedge clk);",
        "        end",
        "        $fclose(fd);",
        "        $finish;",
        "    end",
    ]


def _cycle_counter(events: bool) -> list[str]:
    """The per-inference cycle count as cost_models/latency.py has it, taken at the rising edge where the
    design samples its inputs: from the edge that takes start (event input: where the input stage starts
    frame 0) to the one that sees done, less (event input) the cycles the design was ready for a beat the
    source did not offer."""
    return [
        "    integer c_t0 = 0, c_stall = 0, c_s = 0;",
        "    always @(posedge clk) if (!rst) begin",
        "        if (done) begin",
        "            $fwrite(fd, \"C %0d %0d\\n\", c_s, cycle - c_t0 - c_stall);",
        "            c_s = c_s + 1;",
        "            c_t0 = cycle;",
        "            c_stall = 0;",
        "        end else if (" + ("dut.in_start && dut.t == 0" if events else "start") + ") c_t0 = cycle;",
        *(["        if (s_ready && !s_valid) c_stall = c_stall + 1;"] if events else []),
        "    end",
    ]


@dataclass
class VerilogRun:
    """What the Verilog produced: spikes per spiking layer [T, B, n] (uint8, n = the layer's
    unpooled neurons, flat), readout sums and logits [B, classes] (Python ints), the predicted
    class [B] and cycles per sample (cost_models/latency.py's count: event input from frame 0
    to done, stream stalls left out)."""

    spikes: list[np.ndarray]
    readout_sums: np.ndarray
    logits: np.ndarray
    predictions: np.ndarray
    cycles: np.ndarray


def _input_lines(codes: np.ndarray, bits: int) -> list[str]:
    lo, hi = 0, 2**bits - 1
    if codes.size and (int(codes.min()) < lo or int(codes.max()) > hi):
        raise UserError(f"input codes {int(codes.min())}..{int(codes.max())} do not fit the template's {bits}-bit unsigned inputs")
    digits = max(1, -(-bits // 4))
    return [f"{int(c) & (2**bits - 1):0{digits}x}" for c in codes.reshape(-1)]


def frame_lines(frames: np.ndarray, beats: int, beat_bits: int) -> list[str]:
    """Event frames [T, B, ...] of 0/1 as stream words, sample-major: (b, t, beat)."""
    steps, batch = int(frames.shape[0]), int(frames.shape[1])
    flat = np.asarray(frames).reshape(steps, batch, -1)
    if flat.size and (flat.min() < 0 or flat.max() > 1):
        raise UserError("event frames must hold 0/1 values")
    padded = np.zeros((steps, batch, beats * beat_bits), dtype=np.int64)
    padded[:, :, : flat.shape[2]] = flat
    weights = 1 << np.arange(beat_bits, dtype=object)
    digits = max(1, -(-beat_bits // 4))
    lines = []
    for b in range(batch):
        for t in range(steps):
            for k in range(beats):
                word = int(np.dot(padded[t, b, k * beat_bits:(k + 1) * beat_bits].astype(object), weights))
                lines.append(f"{word:0{digits}x}")
    return lines


def cycle_bound(design: VerilogDesign, timesteps: int) -> int:
    """A generous bound on the cycles of one inference: every tap / input for every group, every
    spike, per step (simulate_verilog's and the exported self-checking testbench's)."""
    per_step = 0
    for p in design.params:
        if p.kind == "conv":
            per_step += p.groups * p.height * p.width * (p.n_in + p.p + 8)
        else:
            per_step += p.groups * (p.n_in + 8) + p.n_out
    if design.stream is not None:
        per_step += 2 * (design.stream.beats + design.stream.n_pixels) + 10
    return timesteps * per_step * 4 + 200


def simulate_verilog(design: VerilogDesign, codes: np.ndarray, timesteps: int, workdir: str | Path | None = None,
                     timeout_s: float = 600.0, gap_percent: int = 30, seed: int = 1) -> VerilogRun:
    """Compile and run the design and parse its output. Static input: integer codes [B, ...];
    event input: 0/1 frames [T, B, ...] (the integer simulation's per-step form)."""
    if not iverilog_available():
        raise UserError("iverilog/vvp not found on PATH; install Icarus Verilog (Debian: apt-get install iverilog)")
    params = design.params
    first = params[0]
    codes = np.asarray(codes, dtype=np.int64)
    if design.stream is None:
        batch = int(codes.shape[0])
        flat = codes.reshape(batch, -1)
        if flat.shape[1] != first.in_values:
            raise UserError(f"inputs have {flat.shape[1]} values per sample; the design takes {first.in_values}")
        data = _input_lines(flat, 8)
    else:
        if codes.ndim < 3 or codes.shape[0] != timesteps:
            raise UserError(f"event input needs frames [T={timesteps}, B, ...], got shape {tuple(codes.shape)}")
        batch = int(codes.shape[1])
        if int(np.prod(codes.shape[2:])) != design.stream.n_pixels:
            raise UserError(f"frames have {int(np.prod(codes.shape[2:]))} pixels; the design takes {design.stream.n_pixels}")
        data = frame_lines(codes, design.stream.beats, design.stream.beat_bits)
    max_cycles = cycle_bound(design, timesteps)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        write_design(design, folder)
        (folder / INPUTS).write_text("\n".join(data) + "\n")
        (folder / TESTBENCH).write_text(testbench_verilog(design, batch, timesteps, max_cycles, gap_percent, seed))
        sources = [TESTBENCH, *design.sources]
        compiled = subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", *sources], cwd=folder,
                                  capture_output=True, text=True, timeout=timeout_s)
        if compiled.returncode != 0:
            raise RuntimeError(f"iverilog failed: {compiled.stderr.strip()}")
        ran = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=folder, capture_output=True, text=True, timeout=timeout_s)
        if ran.returncode != 0:
            raise RuntimeError(f"vvp failed: {ran.stderr.strip() or ran.stdout.strip()}")
        text = (folder / "tb_out.txt").read_text()
    return parse_output(text, params, batch, timesteps)


def parse_output(text: str, params, batch: int, timesteps: int) -> VerilogRun:
    """Turn the testbench's S/R/P/C lines into arrays."""
    spikes = [np.zeros((timesteps, batch, p.n_neurons), dtype=np.uint8) for p in params[:-1]]
    n_cls = params[-1].n_out
    sums = np.zeros((batch, n_cls), dtype=object)
    logits = np.zeros((batch, n_cls), dtype=object)
    predictions = np.full(batch, -1, dtype=np.int64)
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
        elif m.group(1) == "P":
            predictions[fields[0]] = fields[1]
        else:
            cycles[fields[0]] = fields[1]
    return VerilogRun(spikes, sums, logits, predictions, cycles)
