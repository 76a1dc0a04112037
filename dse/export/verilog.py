"""`verilog`: the network as synthesizable Verilog of the project's FPGA template.

snn_layer.v (the layer module), snn_top.v (generated top: input buffer, layers, spike buffers,
T-step sequencer), verilog_layerI_weights.mem and verilog_layerI_scales.mem ($readmemh images in
the layout of the `mem` format; their own names so both formats fit one folder) and
verilog_params.json (every instance's parameters). Parameters come from the cost model's quantities (dse/hardware/verilog_template.py);
a design the template cannot express (conv layers, multipliers of more than 17 bits) is refused
in one line. Simulate with dse.hardware.testbench.simulate_verilog; synthesize e.g. with yosys
`read_verilog -defer snn_layer.v snn_top.v; hierarchy -top snn_top; synth_xilinx -flatten`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dse.files import write_text
from dse.hardware.verilog_template import TOP_MODULE, verilog_design, write_design

def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Write the Verilog design of ctx's integer network into out_dir."""
    design = verilog_design(ctx.integer_net)  # UserError (one line) before any file is written
    folder = Path(out_dir)
    written = write_design(design, folder)
    params = {"top": TOP_MODULE, "timesteps": ctx.integer_net.timesteps,
              "layers": [{**asdict(p), "wmem": p.wmem, "smem": p.smem} for p in design.params]}
    written.append(write_text(folder / "verilog_params.json", json.dumps(params, indent=2) + "\n"))
    return written
