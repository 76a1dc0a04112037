"""3x3 conv layers of every added integer form in Verilog (snn_conv.v WFORM 1/2, NEURON 1/2).

TTQ (two accumulators, acc+ M - acc- Mn), TaWQ (T code and scale sets), Q-SNN (level state, comparator
bank) and MFP (reset-free integrator) conv networks, each on static input and on event frames
(tests/test_verilog.py CONV_FORM_CASES): in iverilog, spikes per layer and timestep, logits and the
predicted class equal the integer reference (dse/export/integer_sim.py), and every inference takes the
cycles of the plain (uniform, LIF) conv network of the same geometry: the forms leave the conv schedule
as it is. Their declared memories are compared with the cost model's in tests/test_verilog.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from dse.hardware.testbench import simulate_verilog
from dse.hardware.verilog_template import verilog_design
from search_spaces.candidate import Candidate

from _services import require_tool
from test_verilog import CONV_FORM_CASES, _assert_builder_net_bit_exact, _firing_model, _inputs

TWIN_SAMPLES = 2  # cycles per inference of a conv net do not depend on the data (dense window walk)


def _uniform_twin(cand: Candidate) -> Candidate:
    """The same geometry (layers, channels, pooling, P, T, input) with 4-bit uniform weights and 8-bit LIF
    membranes: the conv schedule the added forms must keep."""
    n = len(cand.widths)
    return Candidate("conv", cand.widths, (4,) * (n + 1), (8,) * n, cand.timesteps, pooling=cand.pooling,
                     parallelism=cand.parallelism, input_shape=cand.input_shape, num_classes=cand.num_classes,
                     input_kind=cand.input_kind)


@pytest.mark.iverilog
@pytest.mark.parametrize("case", list(CONV_FORM_CASES))
def test_conv_layers_of_the_added_forms_are_bit_exact_in_iverilog(case, tmp_path):
    """Identical spikes, logits and class against the integer reference; cycles equal the plain conv's."""
    require_tool("iverilog", "vvp")
    pytest.importorskip("torch")
    from dse.export.integer_network import integer_network

    cand, gains = CONV_FORM_CASES[case]
    net, design, run = _assert_builder_net_bit_exact(cand, gains, tmp_path)
    assert [p.module for p in design.params[:-1]] == ["snn_conv"] * len(cand.widths)
    assert {p.wform or p.neuron for p in design.params[:-1]} != {0}, "the case builds no added form"

    twin = _uniform_twin(cand)
    step = 1.0 if cand.input_kind == "events" else 0.25
    twin_net = integer_network(_firing_model(twin, (1.0,) * len(twin.widths)), step, "auto")
    codes = _inputs(cand)
    codes = codes[:, :TWIN_SAMPLES] if cand.input_kind == "events" else codes[:TWIN_SAMPLES]
    twin_run = simulate_verilog(verilog_design(twin_net), codes, twin_net.timesteps, workdir=tmp_path)
    assert np.array_equal(run.cycles[:TWIN_SAMPLES], twin_run.cycles), "the form changed the conv schedule"
    print(f"{case}: cycles per inference {int(run.cycles.max())} (the uniform twin's)")
