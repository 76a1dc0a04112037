"""The self-checking part of a Verilog export, and `dse simulate`'s run of it.

`dse export --format verilog` calls write_selfcheck() at the end of dse/export/verilog.py's write():
besides the design it writes

| file | what |
|---|---|
| `tb_selfcheck.v` | testbench `tb`: dse/hardware/testbench.py's stimulus (static codes, or event frames with 30 % valid gaps), plus a checker that compares every spike and prediction with the vectors below and prints a summary (`SC_...` lines); compiled with `-DDSE_VCD` it also dumps the design into `dse_activity.vcd` (`dse simulate --saif/--vcd`) |
| `selfcheck_inputs.mem` | N samples of the study's test split (default 32): static 8-bit codes (flat c, y, x, sample-major), or the event stream's beats (sample, timestep, beat) |
| `selfcheck_expected_layerI.mem` | the integer reference's spikes of spiking layer I: one word per (sample, timestep), row s x T + t, bit n = neuron n (flat, unpooled), hex, most significant digit first |
| `selfcheck_expected_predictions.mem` | the reference's predicted class per sample (argmax of the integer logits, ties to the lowest index) |
| `selfcheck.json` | samples, their source (data set, split, seed, indices, labels), timesteps, files, layers, the cycle bound, target and FPGA part |
| `synth.ys` | yosys script: `yosys -s synth.ys` in the folder writes `synth_stat.json` (stat -json) |
| `vivado.tcl` | Vivado non-project script: `vivado -mode batch -source vivado.tcl [-tclargs ACTIVITY.saif]` writes `vivado_utilization.rpt`, `vivado_timing.rpt`, `vivado_power.rpt`; without an argument it reads `activity.saif` when the folder has one |

The inputs are the data set's test split (dse.training.data.load_dataset, seed 0 unless the export
records one) when the data set is known and its samples have the network's input shape; otherwise
seeded synthetic inputs (digits-like codes 0..16, or event frames of density 0.3), and
selfcheck.json says which. The expected values are dse/export/integer_sim.py's simulate() at the
exported scale bits, the reference the template is bit-exact to (tests/test_verilog.py).

run_selfcheck() copies the export into a temporary folder, compiles the testbench with Icarus
Verilog or Verilator (--binary --timing), runs it and parses the summary into a SelfCheckResult.
Bad input (a folder that is not a Verilog export, missing vectors, no simulator) is a one-line
UserError. With vcd_to (ActivityOutputs, `dse simulate --saif/--vcd`) the testbench is compiled with
-DDSE_VCD and its VCD becomes a SAIF file (dse/hardware/saif.py) headed by the candidate's digest,
layers, inferences and the reference's spikes, for cost_models/switching.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.hardware.testbench import INPUTS, _input_lines, cycle_bound, frame_lines, iverilog_available, testbench_verilog
from dse.hardware.verilog_template import TOP_MODULE, VerilogDesign

DEFAULT_SAMPLES = 32
SYNTHETIC_SEED = 0
TESTBENCH_FILE = "tb_selfcheck.v"
TESTBENCH_TOP = "tb"
INPUT_FILE = "selfcheck_inputs.mem"
PREDICTIONS_FILE = "selfcheck_expected_predictions.mem"
MANIFEST_FILE = "selfcheck.json"
SYNTH_YS = "synth.ys"
VIVADO_TCL = "vivado.tcl"
# report files the scripts write; `dse calibrate --reports DIR` finds them in export folders
YOSYS_STAT = "synth_stat.json"
VIVADO_UTILIZATION = "vivado_utilization.rpt"
VIVADO_TIMING = "vivado_timing.rpt"
VIVADO_POWER = "vivado_power.rpt"
ACTIVITY_VCD = "dse_activity.vcd"  # what the testbench dumps under -DDSE_VCD (dse simulate --saif/--vcd)
ACTIVITY_SAIF = "activity.saif"  # vivado.tcl reads this SAIF when given no argument
DEFAULT_TARGET = "fpga-small"
# FPGA parts of the shipped targets (the target files name the board and device, not the package
# and speed grade): the board's part where the target names a board. A target file may give its own
# with a top-level `part:` (and `yosys_family:`); an unknown target gets DEFAULT_PART.
TARGET_PARTS = {
    "fpga-tiny": ("xc7a35ticsg324-1L", "xc7"),  # Arty A7-35
    "fpga-small": ("xc7z020clg400-1", "xc7"),  # PYNQ-Z2
    "fpga-medium": ("xczu3eg-sbva484-1-e", "xcup"),  # Avnet Ultra96
    "fpga-large": ("xczu9eg-ffvb1156-2-e", "xcup"),  # Xilinx ZCU102
}
DEFAULT_PART = TARGET_PARTS[DEFAULT_TARGET]
SIMULATORS = ("iverilog", "verilator")
_SC = re.compile(r"^SC_(\w+)((?: -?\d+)*)\s*$")


def expected_file(layer: int) -> str:
    return f"selfcheck_expected_layer{layer}.mem"


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


# ---------------------------------------------------------------- export side


def sample_inputs(ctx: Any, net: Any, n: int) -> tuple[np.ndarray, dict[str, Any]]:
    """n input samples as integer codes: static [B, C, H, W], events [T, B, C, H, W]; and where they came from.

    The data set's test split when it loads and fits the network; seeded synthetic inputs otherwise."""
    events = getattr(net, "input_kind", "static") == "events"
    shape = tuple(int(v) for v in net.input_shape)
    seed = int((getattr(ctx, "checkpoint_source", None) or {}).get("seed", 0) or 0)
    why = "no data set recorded"
    if getattr(ctx, "dataset", None):
        try:
            codes, info = _dataset_inputs(ctx, net, n, seed, events, shape)
            return codes, info
        except Exception as exc:  # noqa: BLE001 - any failure falls back to synthetic inputs, recorded
            why = f"data set {ctx.dataset!r} not usable here: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    rng = np.random.default_rng(SYNTHETIC_SEED)
    if events:
        codes = (rng.random((net.timesteps, n, *shape)) < 0.3).astype(np.int64)
        kind = "synthetic event frames, density 0.3"
    else:
        codes = rng.integers(0, 17, size=(n, *shape))
        codes[rng.random(codes.shape) < 0.4] = 0
        codes = codes.astype(np.int64)
        kind = "synthetic static codes 0..16, 40 % zeros"
    return codes, {"source": "synthetic", "description": f"{kind} (numpy seed {SYNTHETIC_SEED}); {why}",
                   "dataset": getattr(ctx, "dataset", None), "labels": None}


def _dataset_inputs(ctx: Any, net: Any, n: int, seed: int, events: bool, shape: tuple[int, ...]
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    from dse.export.integer_sim import input_codes, model_input_steps
    from dse.training.data import load_dataset

    data = load_dataset(ctx.dataset, seed=seed)
    split = data.test
    count = min(n, len(split))
    if count < 1:
        raise UserError("empty test split")
    x = split.x[:count]
    if tuple(int(v) for v in x.shape[-3:]) != shape:
        raise UserError(f"samples of shape {list(x.shape[-3:])}, the network takes {list(shape)}")
    if events:
        codes = input_codes(model_input_steps(ctx.model, x), net.input_step)
        if codes.shape[0] != net.timesteps:
            raise UserError(f"{codes.shape[0]} frames per sample after re-binning; the network takes {net.timesteps}")
    else:
        codes = input_codes(x, net.input_step)
        if codes.min(initial=0) < 0 or codes.max(initial=0) > 255:
            raise UserError("input codes outside the template's 8-bit unsigned range")
    labels = [int(v) for v in split.y[:count].tolist()]
    return codes, {"source": "dataset", "dataset": ctx.dataset, "split": "test", "seed": seed,
                   "indices": [0, count], "labels": labels,
                   "description": f"the first {count} samples of {ctx.dataset}'s test split (seed {seed})"}


def resolve_target(ctx: Any) -> str | None:
    """The target the export was made for, when known: ctx.target, else the study's recorded target."""
    target = getattr(ctx, "target", None)
    if target:
        return str(getattr(target, "name", target))
    source = getattr(ctx, "checkpoint_source", None) or {}
    if source.get("target"):
        return str(source["target"])
    if source.get("storage") and source.get("study"):
        try:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.load_study(study_name=str(source["study"]), storage=str(source["storage"]))
            name = study.user_attrs.get("target")
            return str(name) if name else None
        except Exception:  # noqa: BLE001 - the target is a convenience; the default stands in
            return None
    return None


def fpga_part(target: str | None) -> tuple[str, str, str]:
    """(part, yosys synth_xilinx family, where it came from) for a target name or file."""
    if target:
        path = Path(target)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            import yaml

            try:
                data = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError):  # an unreadable file names no part: the default applies
                data = {}
            if isinstance(data, dict) and data.get("part"):
                return str(data["part"]), str(data.get("yosys_family", "xc7")), f"part: of {target}"
            target = str(data.get("name", path.stem)) if isinstance(data, dict) else path.stem
        for name, (part, family) in TARGET_PARTS.items():
            if target == name or target.startswith(name + "-"):  # fpga-small-calibrated
                return part, family, f"the board of {name}"
    part, family = DEFAULT_PART
    return part, family, f"default ({DEFAULT_TARGET}'s board; no part known for target {target!r})"


def _row_hex(bits: np.ndarray) -> str:
    """0/1 vector -> hex word, bit i = element i, most significant digit first."""
    n = int(bits.size)
    text = "".join("1" if b else "0" for b in bits[::-1].tolist())
    return f"{int(text, 2) if text else 0:0{max(1, -(-n // 4))}x}"


def selfcheck_testbench(design: VerilogDesign, n_samples: int, timesteps: int, max_cycles: int,
                        layer_files: list[str], gap_percent: int = 30, seed: int = 1) -> str:
    """testbench_verilog's stimulus with a checker: it samples every spike and the prediction on the
    falling edge (no race with the design's rising edge), compares them with the expected vectors
    after the last inference and prints SC_ lines and a summary, then $finish."""
    base = testbench_verilog(design, n_samples, timesteps, max_cycles, gap_percent, seed)
    if base.count(f'"{INPUTS}"') != 1 or not base.rstrip().endswith("endmodule"):
        raise RuntimeError("dse.hardware.testbench's testbench changed shape; update dse/hardware/selfcheck.py")
    base = base.replace(f'"{INPUTS}"', f'"{INPUT_FILE}"')
    params = design.params
    spiking = params[:-1]
    rows = n_samples * timesteps
    pw = _bits(params[-1].n_out)
    static = design.stream is None
    out: list[str] = [
        "    // ---------------- self-check (dse/hardware/selfcheck.py): expected vectors from the integer reference",
        f"    localparam SC_N = {n_samples}, SC_T = {timesteps}, SC_ROWS = {rows}, SC_MAX = {max_cycles};",
        f"    reg [{pw - 1}:0] sc_exp_pred [0:SC_N-1];",
        f"    reg [{pw - 1}:0] sc_got_pred [0:SC_N-1];",
        "    integer sc_cycles [0:SC_N-1];",
        "    integer sc_stalls [0:SC_N-1];  // cycles the design waited for the stream (s_ready && !s_valid)",
        "    integer sc_stall, sc_pc, sc_pt0, sc_ps;",
        "    integer sc_s, sc_ncyc, sc_t0, sc_r, sc_b, sc_bad, sc_first, sc_fail, sc_total, sc_min, sc_max, sc_sum;",
        "    reg sc_done;",
    ]
    for i, prm in enumerate(spiking):
        n = prm.n_neurons
        out += [f"    reg [{n - 1}:0] sc_exp{i} [0:SC_ROWS-1];",
                f"    reg [{n - 1}:0] sc_got{i} [0:SC_ROWS-1];",
                f"    reg [{n - 1}:0] sc_x{i};"]
    out += [
        "    initial begin",
        f"        $readmemh(\"{PREDICTIONS_FILE}\", sc_exp_pred);",
        *[f"        $readmemh(\"{name}\", sc_exp{i});" for i, name in enumerate(layer_files)],
        "        for (sc_r = 0; sc_r < SC_ROWS; sc_r = sc_r + 1) begin",
        *[f"            sc_got{i}[sc_r] = 0;" for i in range(len(spiking))],
        "        end",
        "        for (sc_r = 0; sc_r < SC_N; sc_r = sc_r + 1) begin sc_got_pred[sc_r] = 0; sc_cycles[sc_r] = 0; sc_stalls[sc_r] = 0; end",
        "        sc_s = 0; sc_ncyc = 0; sc_t0 = 0; sc_done = 0; sc_stall = 0; sc_pc = 0; sc_pt0 = 0; sc_ps = 0;",
        "    end",
        "    // spikes: row sample x T + timestep, bit = the layer's flat (unpooled) neuron index",
        "    always @(negedge clk) if (!rst && !sc_done && sc_s < SC_N) begin",
    ]
    for i, prm in enumerate(spiking):
        we, idx = (f"dut.{prm.name}_sp_we", f"dut.{prm.name}_sp_idx") if prm.kind == "conv" else \
            (f"dut.{prm.name}_out_we", f"dut.{prm.name}_out_idx")
        out.append(f"        if ({we} && {idx} < {prm.n_neurons} && dut.t < SC_T) "
                   f"sc_got{i}[sc_s * SC_T + dut.t][{idx}] = 1'b1;")
    out += [
        "    end",
        "    // cycles per inference as cost_models/latency.py counts them, at the rising edge (where the design",
        "    // samples its inputs): " + ("from the edge that takes start to the one that sees done" if static else
                                      "from the edge where the input stage starts frame 0 to the one that sees done;"),
        *([] if static else [
            "    // stream stalls (the design ready for a beat the source does not offer) are counted apart",
        ]),
        "    always @(posedge clk) if (!rst && !sc_done) begin",
        "        sc_pc = sc_pc + 1;",
        "        if (done) begin",
        "            sc_cycles[sc_ps] = sc_pc - sc_pt0;",
        "            sc_stalls[sc_ps] = sc_stall;",
        "            sc_stall = 0;",
        "            sc_pt0 = sc_pc;",
        "            sc_ps = sc_ps + 1;",
        "            if (sc_ps == SC_N) begin sc_done = 1; sc_report; $finish; end",
        "        end else if (" + ("start" if static else "dut.in_start && dut.t == 0") + ") sc_pt0 = sc_pc;",
        *([] if static else ["        if (dut.s_ready && !s_valid) sc_stall = sc_stall + 1;"]),
        "    end",
        "    // predictions (falling edge, as the spikes) and the timeout",
        "    always @(negedge clk) begin",
        "        sc_ncyc = sc_ncyc + 1;",
        "        if (rst) sc_t0 = sc_ncyc;",
        "        else if (!sc_done) begin",
        "            if (done) begin",
        "                sc_got_pred[sc_s] = pred;",
        "                sc_t0 = sc_ncyc;",
        "                sc_s = sc_s + 1;",
        "            end else if (sc_ncyc - sc_t0 > SC_MAX) begin",
        "                $display(\"SC_TIMEOUT %0d %0d\", sc_s, SC_MAX);",
        "                sc_done = 1; sc_report; $finish;",
        "            end",
        "        end",
        "    end",
        "    task sc_report;",
        "        begin",
        "            sc_fail = 0;",
    ]
    for i, prm in enumerate(spiking):
        n = prm.n_neurons
        out += [
            "            sc_bad = 0; sc_first = 1;",
            "            for (sc_r = 0; sc_r < SC_ROWS; sc_r = sc_r + 1) begin",
            f"                sc_x{i} = sc_exp{i}[sc_r] ^ sc_got{i}[sc_r];",
            f"                if (sc_x{i} != 0)",
            f"                    for (sc_b = 0; sc_b < {n}; sc_b = sc_b + 1)",
            f"                        if (sc_x{i}[sc_b]) begin",
            "                            sc_bad = sc_bad + 1;",
            "                            if (sc_first) $display(\"SC_FIRST_SPIKE_MISMATCH %0d %0d %0d %0d %0d %0d\", "
            f"{i}, sc_r / SC_T, sc_r % SC_T, sc_b, sc_exp{i}[sc_r][sc_b], sc_got{i}[sc_r][sc_b]);",
            "                            sc_first = 0;",
            "                        end",
            "            end",
            f"            $display(\"SC_LAYER %0d %0d %0d\", {i}, SC_ROWS * {n} - sc_bad, SC_ROWS * {n});",
            f"            $display(\"selfcheck: {prm.name} spikes %0d of %0d agree\", SC_ROWS * {n} - sc_bad, SC_ROWS * {n});",
            "            if (sc_bad != 0) sc_fail = 1;",
        ]
    out += [
        "            sc_bad = 0; sc_total = 0; sc_min = 0; sc_max = 0; sc_sum = 0;",
        "            for (sc_r = 0; sc_r < sc_s && sc_r < SC_N; sc_r = sc_r + 1) begin",
        "                sc_total = sc_total + 1;",
        "                if (sc_got_pred[sc_r] !== sc_exp_pred[sc_r]) begin",
        "                    if (sc_bad == 0) $display(\"SC_FIRST_PREDICTION_MISMATCH %0d %0d %0d\", sc_r, sc_exp_pred[sc_r], sc_got_pred[sc_r]);",
        "                    sc_bad = sc_bad + 1;",
        "                end",
        "                if (sc_r == 0 || sc_cycles[sc_r] < sc_min) sc_min = sc_cycles[sc_r];",
        "                if (sc_r == 0 || sc_cycles[sc_r] > sc_max) sc_max = sc_cycles[sc_r];",
        "                sc_sum = sc_sum + sc_cycles[sc_r];",
        "                $display(\"SC_CYCLES %0d %0d %0d\", sc_r, sc_cycles[sc_r], sc_stalls[sc_r]);",
        "            end",
        "            if (sc_bad != 0 || sc_total != SC_N) sc_fail = 1;",
        "            $display(\"SC_PREDICTIONS %0d %0d\", sc_total - sc_bad, SC_N);",
        "            $display(\"selfcheck: predictions %0d of %0d agree; cycles per inference %0d..%0d (total %0d over %0d)\", "
        "sc_total - sc_bad, SC_N, sc_min, sc_max, sc_sum, sc_total);",
        "            $display(\"SC_RESULT %0d\", sc_fail);",
        "            if (sc_fail) $display(\"selfcheck: FAIL\"); else $display(\"selfcheck: PASS\");",
        "        end",
        "    endtask",
        *activity_dump_lines(design),
    ]
    body = base.rstrip()
    body = body[: -len("endmodule")]
    return body + "\n".join(out) + "\nendmodule\n"


def activity_dump_lines(design: VerilogDesign) -> list[str]:
    """The testbench's VCD dump for `dse simulate --saif/--vcd`, compiled only with -DDSE_VCD (the plain run
    stays as fast): the design under tb.dut, and the per-unit accumulator, product and pooling words, arrays
    that Icarus's $dumpvars(0, dut) leaves out (Verilator's --trace dumps them itself)."""
    words = []
    for prm in design.params:
        arrays = ["acc", "prod"] + (["accn"] if prm.wform == 1 else []) + (["pacc"] if prm.kind == "conv" and prm.pool else [])
        words += [f"dut.u_{prm.name}.{name}[{u}]" for name in arrays for u in range(prm.p)]
    return [
        "`ifdef DSE_VCD",
        "    // switching activity (dse simulate --saif/--vcd; dse/hardware/saif.py turns it into SAIF)",
        "    initial begin",
        f"        $dumpfile(\"{ACTIVITY_VCD}\");",
        "        $dumpvars(0, dut);",
        "`ifdef __ICARUS__",
        *[f"        $dumpvars(0, {w});" for w in words],
        "`endif",
        "    end",
        "`endif",
    ]


def synth_ys(sources: list[str], family: str, target: str | None, part: str) -> str:
    return "\n".join([
        "# yosys synthesis of this exported design (written by dse export --format verilog).",
        f"# Run in this folder: yosys -s {SYNTH_YS}    (the $readmemh .mem images are read by relative path)",
        f"# Writes {YOSYS_STAT}: `stat -json` of the design mapped to Xilinx cells; dse calibrate reads it",
        f"# (cost_models/synthesis_reports.py). Target {target or DEFAULT_TARGET}: part {part}, synth_xilinx -family {family}.",
        f"read_verilog -defer {' '.join(sources)}",
        f"hierarchy -top {TOP_MODULE}",
        f"synth_xilinx -family {family} -flatten -top {TOP_MODULE}",
        f"tee -q -o {YOSYS_STAT} stat -json",
        "",
    ])


def vivado_tcl(sources: list[str], mems: list[str], part: str, part_source: str, clock_hz: float) -> str:
    period = 1e9 / clock_hz
    return "\n".join([
        "# Vivado non-project synthesis of this exported design (written by dse export --format verilog).",
        f"# Run in this folder: vivado -mode batch -source {VIVADO_TCL} [-tclargs ACTIVITY.saif|ACTIVITY.vcd]",
        f"# part {part} ({part_source}); clock {clock_hz / 1e6:g} MHz. Writes {VIVADO_UTILIZATION} (dse calibrate",
        f"# reads it: cost_models/synthesis_reports.py), {VIVADO_TIMING} and {VIVADO_POWER}; with a SAIF (or",
        "# VCD) of a simulation, report_power uses its switching activity (hierarchy tb/dut stripped):",
        f"# `dse simulate . --saif {ACTIVITY_SAIF}` writes one; that file is read when no argument is given.",
        f"set part {part}",
        "if {[info exists ::env(DSE_PART)]} { set part $::env(DSE_PART) }",
        f"read_verilog [list {' '.join(sources)}]",
        f"add_files -norecurse [list {' '.join(mems)}]",
        f"synth_design -top {TOP_MODULE} -part $part",
        f"create_clock -name clk -period {period:.3f} [get_ports clk]",
        f"report_utilization -file {VIVADO_UTILIZATION}",
        f"report_timing_summary -file {VIVADO_TIMING}",
        "set activity \"\"",
        "if {$argc > 0} {",
        "    set activity [lindex $argv 0]",
        f"}} elseif {{[file exists {ACTIVITY_SAIF}]}} {{",
        f"    set activity {ACTIVITY_SAIF}",
        "}",
        "if {$activity ne \"\"} {",
        "    if {[string match -nocase *.saif $activity]} {",
        "        read_saif -strip_path tb/dut $activity",
        "    } elseif {[llength [info commands read_vcd]]} {",
        "        read_vcd -strip_path tb/dut $activity",
        "    } else {",
        "        puts \"this Vivado reads switching activity from SAIF only: convert $activity or simulate with SAIF output\"",
        "        exit 1",
        "    }",
        "}",
        f"report_power -file {VIVADO_POWER}",
        "",
    ])


def write_selfcheck(ctx: Any, design: VerilogDesign, out_dir: Path, n_samples: int | None = None) -> list[Path]:
    """Write the self-checking testbench, the vectors and the synthesis scripts into out_dir; the paths written."""
    from dse.export.integer_sim import simulate

    net = ctx.integer_net
    folder = Path(out_dir)
    n = int(n_samples or getattr(ctx, "selfcheck_samples", None) or DEFAULT_SAMPLES)
    codes, info = sample_inputs(ctx, net, n)
    events = design.stream is not None
    batch = int(codes.shape[1] if events else codes.shape[0])
    timesteps = int(net.timesteps)
    ref = simulate(net, codes)
    if events:
        lines = frame_lines(codes, design.stream.beats, design.stream.beat_bits)
    else:
        lines = _input_lines(codes.reshape(batch, -1), 8)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        path = folder / name
        path.write_text(text)
        written.append(path)

    put(INPUT_FILE, "\n".join(lines) + "\n")
    spiking = design.params[:-1]
    layer_files = []
    layers_doc = []
    for i, prm in enumerate(spiking):
        spikes = np.asarray(ref.spikes[i]).reshape(timesteps, batch, -1)
        if spikes.shape[2] != prm.n_neurons:
            raise RuntimeError(f"{prm.name}: reference has {spikes.shape[2]} neurons, the design {prm.n_neurons}")
        rows = [_row_hex(spikes[t, s]) for s in range(batch) for t in range(timesteps)]
        name = expected_file(i)
        put(name, "\n".join(rows) + "\n")
        layer_files.append(name)
        layers_doc.append({"index": i, "name": prm.name, "kind": prm.kind, "neurons": prm.n_neurons,
                           "file": name, "expected_spikes": int(spikes.sum()),
                           "pool": prm.pool, "channels": prm.n_out, "height": prm.height, "width": prm.width})
    pw = _bits(design.params[-1].n_out)
    put(PREDICTIONS_FILE, "\n".join(f"{int(p):0{max(1, -(-pw // 4))}x}" for p in ref.predictions) + "\n")
    max_cycles = cycle_bound(design, timesteps)
    put(TESTBENCH_FILE, selfcheck_testbench(design, batch, timesteps, max_cycles, layer_files))

    target = resolve_target(ctx)
    part, family, part_source = fpga_part(target)
    mems = sorted(p.name for p in folder.glob("*.mem") if not p.name.startswith("selfcheck_"))  # the design's images
    clock_hz = 1.0e8
    try:
        from cost_models.targets import load_target

        clock_hz = float(load_target(target or DEFAULT_TARGET).clock_hz)
    except Exception:  # noqa: BLE001 - an unknown target: the shipped boards' 100 MHz
        pass
    put(SYNTH_YS, synth_ys(list(design.sources), family, target, part))
    put(VIVADO_TCL, vivado_tcl(list(design.sources), mems, part, part_source, clock_hz))
    labels = info.get("labels")
    manifest = {
        "format": "dse-verilog-selfcheck", "format_version": 1,
        "testbench": TESTBENCH_FILE, "top": TESTBENCH_TOP, "samples": batch, "timesteps": timesteps,
        "input_kind": "events" if events else "static", "inputs": INPUT_FILE, "predictions": PREDICTIONS_FILE,
        "inputs_source": info, "layers": layers_doc, "max_cycles_per_inference": max_cycles,
        "reference_accuracy": (float(np.mean(np.asarray(labels) == ref.predictions[: len(labels)]))
                               if labels else None),
        "target": target, "part": part, "part_source": part_source, "yosys_family": family,
        "synthesis": {"yosys": SYNTH_YS, "yosys_report": YOSYS_STAT, "vivado": VIVADO_TCL,
                      "vivado_reports": [VIVADO_UTILIZATION, VIVADO_TIMING, VIVADO_POWER]},
    }
    put(MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return written


# ---------------------------------------------------------------- simulate side


@dataclass
class LayerAgreement:
    index: int
    name: str
    matching: int
    total: int
    expected_spikes: int

    @property
    def fraction(self) -> float:
        return self.matching / self.total if self.total else 1.0


@dataclass
class Mismatch:
    """The first spike mismatch in computation order (sample, timestep, layer, neuron)."""

    layer: int
    name: str
    sample: int
    timestep: int
    neuron: int
    expected: int
    got: int


@dataclass
class SelfCheckResult:
    simulator: str
    samples: int
    predictions_matching: int
    layers: list[LayerAgreement]
    cycles: list[int]
    first_spike_mismatch: Mismatch | None = None
    first_prediction_mismatch: tuple[int, int, int] | None = None  # sample, expected, got
    timeout: tuple[int, int] | None = None  # sample, cycle bound
    notes: list[str] = field(default_factory=list)
    stall_cycles: list[int] = field(default_factory=list)  # per sample: cycles waiting for the event stream

    @property
    def design_cycles(self) -> list[int]:
        """Cycles per inference with a source that never stalls: measured minus the cycles the design
        waited for the stream (all of them on static input). The cost model's latency counts these."""
        stalls = self.stall_cycles or [0] * len(self.cycles)
        return [c - s for c, s in zip(self.cycles, stalls)]

    @property
    def passed(self) -> bool:
        return (self.timeout is None and self.predictions_matching == self.samples and len(self.cycles) == self.samples
                and all(l.matching == l.total for l in self.layers))


def load_export(folder: str | Path) -> tuple[Path, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(folder, export.json, verilog_params.json, selfcheck.json) of a Verilog export; UserError (one line) otherwise."""
    path = Path(folder)
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give the --out folder of `dse export --format verilog`")
    params_file = path / "verilog_params.json"
    if not params_file.is_file():
        raise UserError(f"{path} is not a Verilog export (no verilog_params.json); export one with "
                        "`dse export ... --format verilog --out DIR`")
    docs = []
    for name in ("export.json", "verilog_params.json", MANIFEST_FILE):
        file = path / name
        if not file.is_file():
            raise UserError(f"{path}: no {name}: the self-check vectors are missing (re-export with "
                            "`dse export ... --format verilog --force`)" if name == MANIFEST_FILE else
                            f"{path}: no {name}; not a complete export")
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"{file}: not readable JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise UserError(f"{file}: not a JSON object")
        docs.append(doc)
    export_doc, params, manifest = docs
    if manifest.get("format") != "dse-verilog-selfcheck":
        raise UserError(f"{path / MANIFEST_FILE}: not a dse self-check manifest")
    needed = list(params.get("sources") or []) + [manifest.get("testbench"), manifest.get("inputs"),
                                                    manifest.get("predictions")]
    needed += [layer.get("file") for layer in manifest.get("layers", [])]
    needed += [l[k] for l in params.get("layers", []) for k in ("wmem", "smem") if isinstance(l, dict) and k in l]
    for name in needed:
        if not name or not isinstance(name, str) or Path(name).name != name:
            raise UserError(f"{path / MANIFEST_FILE}: a file entry is missing or not a plain name ({name!r})")
        if not (path / name).is_file():
            raise UserError(f"{path}: {name} is missing (the export lists it; re-export with --force)")
    return path, export_doc, params, manifest


def verilator_available() -> bool:
    return shutil.which("verilator") is not None


def choose_simulator(asked: str | None) -> str:
    """The simulator to use: the one asked for (UserError if not installed), else verilator when installed,
    else iverilog."""
    if asked is not None:
        if asked not in SIMULATORS:
            raise UserError(f"unknown simulator {asked!r}; accepted: {', '.join(SIMULATORS)}")
        if asked == "verilator" and not verilator_available():
            raise UserError("verilator is not installed (not on PATH); install it or give --simulator iverilog")
        if asked == "iverilog" and not iverilog_available():
            raise UserError("iverilog/vvp not installed (not on PATH); Debian: apt-get install iverilog")
        return asked
    if verilator_available():
        return "verilator"
    if iverilog_available():
        return "iverilog"
    raise UserError("no Verilog simulator found: install Icarus Verilog (iverilog, vvp) or Verilator")


class SimulatorBuildError(RuntimeError):
    """The simulator could not compile the testbench (one line)."""


def _first_error(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower()]
    return (errors or lines or ["no output"])[0][:300]


def _compile_and_run(simulator: str, work: Path, sources: list[str], timeout_s: float, vcd: bool = False) -> str:
    if simulator == "iverilog":
        built = subprocess.run(["iverilog", "-g2012", *(["-DDSE_VCD"] if vcd else []), "-s", TESTBENCH_TOP, "-o", "sim.vvp",
                                *sources], cwd=work,
                               capture_output=True, text=True, timeout=timeout_s)
        if built.returncode != 0:
            raise SimulatorBuildError(f"iverilog cannot build the testbench: {_first_error(built.stderr + built.stdout)}")
        command = ["vvp", "-n", "sim.vvp"]
    else:
        built = subprocess.run(["verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                                *(["-DDSE_VCD", "--trace"] if vcd else []), "--top-module", TESTBENCH_TOP, "-Mdir", "obj", "-o", "simv", *sources], cwd=work,
                               capture_output=True, text=True, timeout=timeout_s)
        if built.returncode != 0:
            raise SimulatorBuildError(f"verilator cannot build the testbench: {_first_error(built.stderr + built.stdout)}")
        command = [str(work / "obj" / "simv")]
    ran = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=timeout_s)
    if ran.returncode != 0 and "SC_RESULT" not in ran.stdout:
        raise RuntimeError(f"{simulator} simulation failed: {_first_error(ran.stderr + ran.stdout)}")
    return ran.stdout


def run_selfcheck(folder: str | Path, simulator: str | None = None, workdir: str | Path | None = None,
                  timeout_s: float = 600.0, vcd_to: str | Path | None = None) -> SelfCheckResult:
    """Compile and run the export's self-checking testbench in a temporary folder; the parsed result.

    simulator None: verilator when installed (falling back to iverilog, with a note, when verilator
    cannot build the testbench), else iverilog. UserError on bad input or a missing simulator.
    vcd_to: compile with -DDSE_VCD and move the design's VCD there (dse simulate --saif/--vcd)."""
    path, _export_doc, params, manifest = load_export(folder)
    if vcd_to is not None and ACTIVITY_VCD not in (path / manifest["testbench"]).read_text():
        raise UserError(f"{path / manifest['testbench']} has no VCD dump (an export from before --saif); "
                        "re-export with `dse export ... --format verilog --force`")
    chosen = choose_simulator(simulator)
    sources = [manifest["testbench"], *params["sources"]]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dse-simulate-", dir=workdir) as tmp:
        work = Path(tmp)
        for item in path.iterdir():
            if item.is_file() and (item.suffix in (".v", ".sv", ".mem") or item.name.endswith(".json")):
                shutil.copy2(item, work / item.name)
        vcd = vcd_to is not None
        try:
            text = _compile_and_run(chosen, work, sources, timeout_s, vcd)
        except SimulatorBuildError as exc:
            if simulator is not None or chosen != "verilator" or not iverilog_available():
                raise UserError(str(exc)) from None
            notes.append(f"{exc}; fell back to iverilog")
            chosen = "iverilog"
            text = _compile_and_run(chosen, work, sources, timeout_s, vcd)
        except subprocess.TimeoutExpired:
            raise UserError(f"{chosen} did not finish within {timeout_s:g} s") from None
        if vcd:
            if not (work / ACTIVITY_VCD).is_file():
                raise UserError(f"{chosen} wrote no {ACTIVITY_VCD}: the testbench's dump did not run")
            shutil.move(str(work / ACTIVITY_VCD), str(vcd_to))
    return parse_selfcheck(text, manifest, chosen, notes)


@dataclass
class ActivityOutputs:
    """The files `dse simulate --saif/--vcd` writes, and the scratch folder the testbench's VCD lands in."""

    saif: Path | None
    vcd: Path | None
    scratch: Path

    @property
    def scratch_vcd(self) -> Path:
        return self.scratch / ACTIVITY_VCD

    @classmethod
    def prepare(cls, saif: str | None, vcd: str | None) -> "ActivityOutputs | None":
        """None when neither file is asked for; UserError (before any simulation) for a path that cannot be written."""
        if not saif and not vcd:
            return None
        paths = []
        for option, value in (("--saif", saif), ("--vcd", vcd)):
            if not value:
                paths.append(None)
                continue
            path = Path(value)
            if path.is_dir():
                raise UserError(f"{option} {value}: a folder; give a file name")
            if not path.parent.is_dir():
                raise UserError(f"{option} {value}: the folder {path.parent} does not exist")
            try:
                Path(tempfile.mkdtemp(prefix=".dse-probe-", dir=path.parent)).rmdir()
            except OSError as exc:
                raise UserError(f"{option} {value}: cannot write in {path.parent} ({exc.strerror or type(exc).__name__})") from None
            paths.append(path)
        if paths[0] is not None and paths[0] == paths[1]:
            raise UserError("--saif and --vcd name the same file")
        return cls(paths[0], paths[1], Path(tempfile.mkdtemp(prefix="dse-activity-")))

    def write(self, folder: Path, export_doc: dict[str, Any], manifest: dict[str, Any], result: SelfCheckResult
              ) -> dict[str, Any]:
        """Keep the VCD (--vcd) and write the SAIF with the dse header (--saif); what was written."""
        from cost_models.network import layer_specs
        from cost_models.switching import FORMAT, FORMAT_VERSION, candidate_digest
        from dse.files import atomic_file
        from dse.hardware.saif import read_vcd_activity, write_saif
        from search_spaces.candidate import Candidate

        done: dict[str, Any] = {}
        if self.saif is not None:
            if len(result.cycles) != result.samples:
                raise UserError(f"no SAIF written: {len(result.cycles)} of {result.samples} inferences finished")
            try:
                candidate = Candidate.from_dict(dict(export_doc["candidate"]))
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{folder / 'export.json'}: no readable candidate; the SAIF needs it") from None
            header = {
                "format": FORMAT, "format_version": FORMAT_VERSION, "candidate_digest": candidate_digest(candidate),
                "layers": [spec.name for spec in layer_specs(candidate)], "inferences": result.samples,
                "simulator": result.simulator, "passed": result.passed, "export": str(folder),
                "inputs": manifest.get("inputs_source", {}).get("description"),
                "spikes": measured_activity(folder, manifest, candidate).to_dict(),
            }
            activity = read_vcd_activity(self.scratch_vcd)
            write_saif(activity, self.saif, header)
            done["saif"] = {"file": str(self.saif), "bits": sum(n.width for n in activity.nets),
                            "toggles": sum(sum(n.tc) for n in activity.nets), "timescale": activity.timescale,
                            "duration": activity.duration, "inferences": result.samples}
        if self.vcd is not None:
            with open(self.scratch_vcd, "rb") as source, atomic_file(self.vcd, "wb") as target:
                shutil.copyfileobj(source, target)
            done["vcd"] = {"file": str(self.vcd)}
        return done

    def discard_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def parse_selfcheck(text: str, manifest: dict[str, Any], simulator: str, notes: list[str] | None = None) -> SelfCheckResult:
    """The SC_ lines of the testbench's output -> SelfCheckResult."""
    layers_doc = {int(l["index"]): l for l in manifest.get("layers", [])}
    layers: list[LayerAgreement] = []
    firsts: list[Mismatch] = []
    cycles: dict[int, int] = {}
    stalls: dict[int, int] = {}
    predictions = 0
    first_pred = None
    timeout = None
    result_seen = False
    for line in text.splitlines():
        m = _SC.match(line.strip())
        if not m:
            continue
        kind, values = m.group(1), [int(v) for v in m.group(2).split()]
        if kind == "LAYER":
            i, matching, total = values
            doc = layers_doc.get(i, {})
            layers.append(LayerAgreement(i, doc.get("name", f"layer{i}"), matching, total,
                                         int(doc.get("expected_spikes", 0))))
        elif kind == "FIRST_SPIKE_MISMATCH":
            i, s, t, neuron, expected, got = values
            firsts.append(Mismatch(i, layers_doc.get(i, {}).get("name", f"layer{i}"), s, t, neuron, expected, got))
        elif kind == "FIRST_PREDICTION_MISMATCH":
            first_pred = (values[0], values[1], values[2])
        elif kind == "PREDICTIONS":
            predictions = values[0]
        elif kind == "CYCLES":
            cycles[values[0]] = values[1]
            stalls[values[0]] = values[2] if len(values) > 2 else 0
        elif kind == "TIMEOUT":
            timeout = (values[0], values[1])
        elif kind == "RESULT":
            result_seen = True
    if not result_seen:
        tail = " | ".join(l.strip() for l in text.strip().splitlines()[-3:])
        raise RuntimeError(f"{simulator}: the testbench printed no self-check summary (output ends: {tail[:300]})")
    first = min(firsts, key=lambda m: (m.sample, m.timestep, m.layer, m.neuron)) if firsts else None
    return SelfCheckResult(simulator, int(manifest.get("samples", 0)), predictions, layers,
                           [cycles[k] for k in sorted(cycles)], first, first_pred, timeout, list(notes or []),
                           [stalls[k] for k in sorted(cycles)])


def read_expected_spikes(folder: Path, manifest: dict[str, Any]) -> list[np.ndarray]:
    """The expected spikes per spiking layer as [T, B, neurons] uint8, read back from the .mem files."""
    samples, steps = int(manifest["samples"]), int(manifest["timesteps"])
    out = []
    for layer in manifest["layers"]:
        n = int(layer["neurons"])
        words = [l.strip() for l in (folder / layer["file"]).read_text().splitlines() if l.strip()]
        arr = np.zeros((steps, samples, n), dtype=np.uint8)
        for r, word in enumerate(words[: samples * steps]):
            try:
                value = int(word, 16)
            except ValueError:
                continue
            bits = np.array([(value >> b) & 1 for b in range(n)], dtype=np.uint8)
            arr[r % steps, r // steps] = bits
        out.append(arr)
    return out


def layer_traffic(specs: Any, spikes: list[np.ndarray], first_events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer and sample, the events the layer reads and the spikes it emits in one inference
    (summed over T): two arrays [layers, samples]. `spikes` are the spiking layers' [T, B, ...] (flat or
    not), `first_events` layer 0's input events per sample (event input; zeros on static input). A
    pooled conv hands on its pooled map's nonzero values (integer_sim.pool)."""
    from dse.export.integer_sim import pool

    samples = len(first_events)
    events = np.zeros((len(specs), samples))
    emitted = np.zeros((len(specs), samples))
    for i, spec in enumerate(specs):
        if i < len(spikes):
            s = np.asarray(spikes[i])
            emitted[i] = s.reshape(s.shape[0], samples, -1).sum(axis=(0, 2))
        if not spec.input_is_spike:
            continue
        if i == 0:
            events[i] = first_events
            continue
        prev, s = specs[i - 1], np.asarray(spikes[i - 1])
        steps = s.shape[0]
        if prev.kind == "conv" and prev.pool_after:
            s = pool(s.reshape(steps * samples, *prev.out_shape), "max")  # nonzero after max = after avg
        events[i] = s.reshape(steps, samples, -1).sum(axis=(0, 2))
    return events, emitted


def sample_traffic(folder: Path, manifest: dict[str, Any], candidate: Any) -> tuple[np.ndarray, np.ndarray]:
    """layer_traffic of the export's samples, from its expected spikes (= the design's, when they agree)
    and its input frames."""
    from cost_models.network import layer_specs

    samples = int(manifest["samples"])
    first_events = np.zeros(samples)
    if manifest.get("input_kind") == "events":
        words = [int(l.strip(), 16) for l in (folder / manifest["inputs"]).read_text().splitlines() if l.strip()]
        per_sample = len(words) // max(samples, 1)  # T frames of equal beats, samples in order
        first_events = np.array([sum(bin(w).count("1") for w in words[b * per_sample:(b + 1) * per_sample])
                                 for b in range(samples)], dtype=np.float64)
    return layer_traffic(layer_specs(candidate), read_expected_spikes(folder, manifest), first_events)


def traffic_activity(specs: Any, events: np.ndarray, emitted: np.ndarray) -> Any:
    """cost_models Activity of layer_traffic's [layers, samples] counts: their mean over the samples."""
    from cost_models.activity import Activity, LayerActivity

    return Activity({spec.name: LayerActivity(input_events=float(events[i].mean()), output_spikes=float(emitted[i].mean()))
                     for i, spec in enumerate(specs)})


def measured_activity(folder: Path, manifest: dict[str, Any], candidate: Any) -> Any:
    """cost_models Activity of the export's samples (sample_traffic averaged over them)."""
    from cost_models.network import layer_specs

    return traffic_activity(layer_specs(candidate), *sample_traffic(folder, manifest, candidate))


__all__ = [
    "ActivityOutputs", "DEFAULT_SAMPLES", "LayerAgreement", "Mismatch", "SelfCheckResult", "choose_simulator", "fpga_part",
    "layer_traffic", "load_export", "measured_activity", "run_selfcheck", "sample_traffic", "selfcheck_testbench",
    "traffic_activity", "write_selfcheck",
]
