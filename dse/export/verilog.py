"""`verilog`: the network as synthesizable Verilog of the project's FPGA template.

snn_layer.v (fully connected layer module, plus the multiplier snn_wmul and LIF update snn_lif that
snn_conv.v shares), snn_conv.v (3x3 conv layer module, conv networks only), snn_top.v (generated
top: layer 0's static input buffer or event-frame stream, layers, spike buffers and feature maps, T-step sequencer, argmax), verilog_layerI_weights.mem and
verilog_layerI_scales.mem ($readmemh images in the layout of the `mem` format; their own names so
both formats fit one folder) and verilog_params.json (every instance's parameters, the event
stream's format, and every memory the design declares per layer: name, role, width, depth,
style, kind). Parameters come from the cost model's quantities (dse/hardware/verilog_template.py);
a design the template cannot express (a kernel other than 3x3, multipliers of more than 17 bits)
is refused in one line. Simulate with dse.hardware.testbench.simulate_verilog; synthesize e.g.
with yosys `read_verilog -defer <sources>; hierarchy -top snn_top; synth_xilinx -flatten`, where
<sources> is verilog_params.json's "sources".
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
    stream = design.stream
    params = {
        "top": TOP_MODULE, "timesteps": ctx.integer_net.timesteps, "sources": design.sources,
        "input_kind": "events" if stream is not None else "static",
        "event_stream": None if stream is None else {"beats": stream.beats, "beat_bits": stream.beat_bits,
                                                     "pixels": stream.n_pixels},
        "layers": [{**asdict(p), "module": p.module, "wmem": p.wmem, "smem": p.smem} for p in design.params],
        "memories": [m.as_dict() for m in design.memories],
    }
    written.append(write_text(folder / "verilog_params.json", json.dumps(params, indent=2) + "\n"))
    from dse.hardware.selfcheck import write_selfcheck  # testbench, vectors, synth.ys, vivado.tcl (docs/export.md)
    return written + write_selfcheck(ctx, design, folder)
