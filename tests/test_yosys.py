"""yosys synthesizes an exported design, and its BRAM18 and DSP counts are the cost model's.

The design goes the way a user's does: SpikingNet -> `dse export --format verilog` (export_to)
-> yosys with the synthesis script of benchmarks/synthesis/run_grid.py (synth_xilinx for 7
series, then `stat -json`) -> cost_models.synthesis_reports. BRAM18 and DSP are set by the
template (memory styles, multipliers) and not fitted, so they must equal the estimate exactly,
as on the stored grid (docs/cost-models.md, section 12; test_synthesis_reports.py compares them
with ==). About 10 s of yosys on 2 cores.
"""

from __future__ import annotations

import subprocess

import pytest

from cost_models.report import evaluate
from cost_models.synthesis_reports import read_report
from dse.hardware.verilog_template import TOP_MODULE
from search_spaces.candidate import Candidate

from _services import require_tool

# benchmarks/synthesis/run_grid.py's YOSYS_SCRIPT (versions.json "synthesis")
YOSYS_SCRIPT = (f"read_verilog -defer snn_layer.v {TOP_MODULE}.v; hierarchy -top {TOP_MODULE}; "
                f"synth_xilinx -family xc7 -flatten -top {TOP_MODULE}; tee -q -o stat.json stat -json")


def _export_and_synthesize(cand: Candidate, tmp_path):
    """`dse export --format verilog` of the seeded untrained candidate, then yosys on the sources
    verilog_params.json lists (synth_xilinx -flatten, stat -json): (verilog_params.json, counts)."""
    import json

    import torch

    from dse.export import ExportContext, export_to
    from dse.training.model import build_model

    torch.manual_seed(0)
    out = tmp_path / "design"
    export_to(ExportContext(model=build_model(cand), dataset="digits", source="test"), ["verilog"], out)
    params = json.loads((out / "verilog_params.json").read_text())
    script = (f"read_verilog -defer {' '.join(params['sources'])}; hierarchy -top {TOP_MODULE}; "
              f"synth_xilinx -family xc7 -flatten -top {TOP_MODULE}; tee -q -o stat.json stat -json")
    done = subprocess.run(["yosys", "-q", "-p", script], cwd=out, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"yosys failed: {(done.stderr or done.stdout).strip()[-2000:]}"
    return params, read_report(out / "stat.json")


@pytest.mark.yosys
@pytest.mark.slow
def test_yosys_counts_the_bram18_and_dsp_the_cost_model_books(tmp_path):
    require_tool("yosys")
    import torch

    from dse.export import ExportContext, export_to
    from dse.training.model import build_model

    # 16 -> 12 -> 3, P = 1: layer 0's weight ROM is 12 x 16 = 192 words deep (> 128: a BRAM18) and
    # its 6-bit weights multiply in a DSP (W > 4), beside one scale DSP per unit of each layer
    cand = Candidate(family="mlp", widths=(12,), weight_bits=(6, 4), membrane_bits=(8,), timesteps=2,
                     parallelism=(1, 1), input_shape=(1, 4, 4), num_classes=3)
    estimate = evaluate(cand, "fpga-small")
    assert (estimate.bram18, estimate.dsp) == (1, 3), "the design no longer exercises a BRAM and a weight DSP"

    torch.manual_seed(0)
    out = tmp_path / "design"
    export_to(ExportContext(model=build_model(cand), dataset="digits", source="test"), ["verilog"], out)
    done = subprocess.run(["yosys", "-q", "-p", YOSYS_SCRIPT], cwd=out, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"yosys failed: {(done.stderr or done.stdout).strip()[-2000:]}"

    counts = read_report(out / "stat.json")
    assert counts.source_format == "yosys-json"
    assert (counts.bram18, counts.dsp) == (estimate.bram18, estimate.dsp)
    assert counts.lut > 0 and counts.ff > 0


@pytest.mark.yosys
@pytest.mark.slow
def test_yosys_synthesizes_a_conv_design_with_the_memories_it_declares(tmp_path):
    """A 3x3 conv with max pooling (1x8x8 -> 6 channels, P = 2) through `dse export --format verilog`:
    BRAM18 and DSP equal the cost model's, and the BRAM18s are the block memories the design
    declares in verilog_params.json (the membrane RAM, 3 groups x 64 positions = 192 words, and
    the readout's 192-word weight ROM; the pooled 6 x 4 x 4 spike map, 96 x 1 bit, is LUTRAM in
    both). About 15 s of yosys."""
    require_tool("yosys")
    from cost_models.fpga import bram18_count

    cand = Candidate(family="conv", widths=(6,), weight_bits=(6, 4), membrane_bits=(8,), timesteps=2,
                     pooling=("max",), parallelism=(2, 2), input_shape=(1, 8, 8), num_classes=3)
    estimate = evaluate(cand, "fpga-small")
    params, counts = _export_and_synthesize(cand, tmp_path)
    declared = sum(bram18_count(m["depth"], m["width"]) for m in params["memories"] if m["kind"] == "bram18")
    assert declared == 2
    assert (counts.bram18, counts.dsp) == (estimate.bram18, estimate.dsp)
    assert estimate.bram18 == declared


# one small design per added integer form (docs/integer-semantics.md, "Added forms"), static MLPs: TTQ's
# second multiplier per unit, TaWQ's T code and scale sets (a 2 x 3 x 16 x 12 = 1152-word weight ROM: BRAM18),
# Q-SNN's j x Ma multiplier and comparator bank, MFP's integrator; each 16 -> 12 -> 3, P = 1..2; and a TTQ
# 3x3 conv (1x6x6 -> 4 channels, max pool, P = 2: two scale DSPs per conv unit and per readout unit)
ADDED_FORM_DESIGNS = {
    "ttq": Candidate("mlp", (12,), (2, 2), (6,), 2, quantizer="ternary", quantizer_options={"algorithm": "ttq"},
                     parallelism=(2, 1), input_shape=(1, 4, 4), num_classes=3),
    "tawq": Candidate("mlp", (12,), (2, 2), (6,), 3, quantizer="tawq", parallelism=(1, 1), input_shape=(1, 4, 4),
                      num_classes=3),
    "qsnn": Candidate("mlp", (12,), (8, 8), (5,), 2, quantizer="qsnn", parallelism=(2, 1), input_shape=(1, 4, 4),
                      num_classes=3),
    "mfp": Candidate("mlp", (12,), (4, 4), (None,), 2, quantizer="mfp", parallelism=(2, 1), input_shape=(1, 4, 4),
                     num_classes=3),
    "ttq-conv": Candidate("conv", (4,), (2, 2), (6,), 2, pooling=("max",), quantizer="ternary",
                          quantizer_options={"algorithm": "ttq"}, parallelism=(2, 1), input_shape=(1, 6, 6),
                          num_classes=3),
}


@pytest.mark.yosys
@pytest.mark.slow
@pytest.mark.parametrize("name", list(ADDED_FORM_DESIGNS))
def test_yosys_counts_the_bram18_and_dsp_of_the_added_forms(name, tmp_path):
    """BRAM18 and DSP of a TTQ, TaWQ, Q-SNN and MFP design and a TTQ conv equal the cost model's (a few s of
    yosys each)."""
    require_tool("yosys")
    cand = ADDED_FORM_DESIGNS[name]
    estimate = evaluate(cand, "fpga-small")
    _, counts = _export_and_synthesize(cand, tmp_path)
    print(f"{name}: yosys BRAM18 {counts.bram18} DSP {counts.dsp}; booked {estimate.bram18} {estimate.dsp}")
    assert (counts.bram18, counts.dsp) == (estimate.bram18, estimate.dsp)
