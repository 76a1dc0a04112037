"""Energy from switching activity: `dse simulate DIR --saif FILE` writes the design's toggles as SAIF
(dse/hardware/saif.py), `dse estimate --activity FILE` prices them (cost_models/switching.py,
energy.toggle_energies_pj; docs/cost-models.md#switching-activity).

The VCD -> SAIF counts are checked on a hand-written VCD; the simulated design is the firing builder
MLP of tests/test_simulate.py exported with 4 samples (a few seconds in iverilog).
"""

from __future__ import annotations

import json
import math
import re

import pytest

from cost_models.energy import toggle_energies_pj
from cost_models.network import layer_specs
from cost_models.report import evaluate, layer_static
from cost_models.switching import (
    REFERENCE_TOGGLE_RATE, ActivityFileError, candidate_digest, net_group, read_saif, read_switching_activity,
)
from cost_models.targets import load_target
from search_spaces.candidate import Candidate

from _services import require_tool

MLP = Candidate("mlp", (24, 12), (4, 2, 4), (8, 6), 3, parallelism=(4, 3, 2), input_shape=(1, 8, 8), num_classes=10)
GAINS = (3.0, 6.0)
SAMPLES = 4

HAND_VCD = """$timescale 1ps $end
$scope module tb $end
$var reg 1 % stim $end
$scope module dut $end
$var wire 1 ! clk $end
$var reg 4 " q [3:0] $end
$var integer 32 # i [31:0] $end
$scope module u_layer0 $end
$var wire 1 ! clk $end
$var reg 2 $ w_rdata [1:0] $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
bx "
b0 #
b00 $
1%
$end
#5
1!
b11 "
#10
0!
b101 "
b11 $
b1 #
#20
"""


def test_vcd_to_saif_counts_by_hand(tmp_path):
    from dse.hardware.saif import read_vcd_activity, write_saif

    vcd = tmp_path / "hand.vcd"
    vcd.write_text(HAND_VCD)
    activity = read_vcd_activity(vcd)
    assert activity.timescale == "1 ps" and activity.duration == 20
    # tb's own net, the integer and u_layer0's alias of clk are left out
    assert [(n.scope, n.name) for n in activity.nets] == [((), "clk"), ((), "q"), (("u_layer0",), "w_rdata")]
    saif = tmp_path / "hand.saif"
    write_saif(activity, saif, {"format": "dse-activity", "inferences": 1})
    read = read_saif(saif)
    assert read.header == {"format": "dse-activity", "inferences": 1} and read.duration == 20
    nets = {(n.scope, n.name): (n.t0, n.t1, n.tx, n.tc) for n in read.nets}
    assert nets[((), "clk")] == (15, 5, 0, 2)  # 0 -> 1 at 5, 1 -> 0 at 10
    # q: X until 5 (not a toggle), then 0011, then 0101 at 10
    assert nets[((), "q[0]")] == (0, 15, 5, 0)
    assert nets[((), "q[1]")] == (10, 5, 5, 1)
    assert nets[((), "q[2]")] == (5, 10, 5, 1)
    assert nets[((), "q[3]")] == (15, 0, 5, 0)
    assert nets[(("u_layer0",), "w_rdata[1]")] == (10, 10, 0, 1)
    assert len(nets) == 7


def test_vector_values_extend_by_the_vcd_rule():
    from dse.hardware.saif import _vector

    assert _vector("10", 4) == (0b0010, 0)
    assert _vector("x1", 4) == (0b0001, 0b1110)
    assert _vector("z", 3) == (0, 0b111)


def test_net_groups_of_the_template():
    assert net_group((), "clk") == ("top", "control")
    assert net_group(("u_layer0",), "w_rdata[3]") == ("layer0", "weight_rom")
    assert net_group(("u_layer1",), "acc[2][5]") == ("layer1", "accumulators")
    assert net_group(("u_layer1",), "m_wdata[0]") == ("layer1", "membrane_ram")
    assert net_group(("u_layer1",), "m_next[4]") == ("layer1", "neuron")
    assert net_group(("u_layer1",), "state[1]") == ("layer1", "control")
    assert net_group(("u_layer0", "unit[0]", "mac"), "p_full[3]") == ("layer0", "multipliers")
    assert net_group(("u_layer0", "unit[0]"), "wbits[1]") is None  # a slice of w_rdata: not priced twice


def test_random_switching_at_the_counted_ops_costs_what_the_count_model_books():
    """Per-toggle energies are the per-op energies over width x 1/2: an RTL whose weight register flips
    half its bits at every counted read costs exactly the count model's weight energy."""
    target = load_target("fpga-small")
    report = evaluate(MLP, target)
    for spec, layer in zip(layer_specs(MLP), report.layers):
        hw = layer_static(spec, target).hardware
        pj = toggle_energies_pj(spec, target, hw.weight_memory_kind, hw.membrane_memory_kind)
        reads = layer.acs + layer.macs
        toggles = reads * spec.weight_read_bits * REFERENCE_TOGGLE_RATE
        assert math.isclose(toggles * pj["weight_rom"] * 1e-9, layer.weight_memory_energy_mj, rel_tol=1e-12)
    assert pj["accumulators"] == pj["control"] == pj["neuron"] > 0


def test_not_a_saif_is_refused(tmp_path):
    bad = tmp_path / "x.saif"
    bad.write_text("hello (world")
    with pytest.raises(ActivityFileError, match="not a SAIF"):
        read_saif(bad)
    bad.write_text("(VCDFILE (DURATION 3))")
    with pytest.raises(ActivityFileError, match="no \\(SAIFILE"):
        read_saif(bad)
    bad.write_bytes(b"\x00\xff\xfe binary")
    with pytest.raises(ActivityFileError, match="not a SAIF"):
        read_saif(bad)


# ---------------------------------------------------------------- simulated export


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The MLP exported with 4 samples, simulated in iverilog with --saif and --vcd."""
    pytest.importorskip("torch")
    require_tool("iverilog", "vvp")
    import torch

    from dse.cli import main
    from dse.export import ExportContext, export_to
    from dse.training.model import build_model

    base = tmp_path_factory.mktemp("activity")
    torch.manual_seed(0)
    model = build_model(MLP)
    with torch.no_grad():
        for layer, gain in zip(model.weight_layers[:-1], GAINS):
            layer.weight.mul_(gain)
    ctx = ExportContext(model, "digits", "test")
    ctx.selfcheck_samples = SAMPLES
    export_to(ctx, ["verilog"], base / "design")
    saif, vcd = base / "activity.saif", base / "activity.vcd"
    code = main(["simulate", str(base / "design"), "--simulator", "iverilog", "--saif", str(saif), "--vcd", str(vcd),
                 "--json"])
    config = base / "candidate.json"
    config.write_text(json.dumps(MLP.to_dict()))
    return base, code, saif, vcd, config


def _run(capsys, *argv):
    from dse.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.iverilog
def test_simulate_writes_a_saif_that_parses_back(simulated):
    base, code, saif, vcd, _config = simulated
    assert code == 0 and saif.is_file() and vcd.is_file()
    assert vcd.read_text().startswith("$") and "$scope module dut $end" in vcd.read_text()
    read = read_saif(saif)
    assert read.header["inferences"] == SAMPLES and read.header["candidate_digest"] == candidate_digest(MLP)
    assert read.header["layers"] == ["layer0", "layer1", "layer2"] and read.header["simulator"] == "iverilog"
    nets = {(n.scope, n.name): n for n in read.nets}
    clk = nets[((), "clk")]
    assert clk.t0 + clk.t1 == read.duration and abs(clk.t0 - clk.t1) <= 5000  # a 10 ns clock in ps
    # hand counts: start pulses once per sample; in_we is high for the 64 input codes of every sample;
    # done is high one cycle per inference, and toggles twice per inference, once less when the
    # simulation stops with it high (read from the raw VCD: its value changes, in order)
    assert nets[((), "start")].tc == 2 * SAMPLES
    assert nets[((), "in_we")].tc == 2 * SAMPLES and nets[((), "in_we")].t1 == SAMPLES * 64 * 10_000
    done = nets[((), "done")]
    assert done.t1 == SAMPLES * 10_000
    text = vcd.read_text()
    code = re.search(r"^\$var \w+ 1 (\S+) done \$end", text, re.M).group(1)
    values = re.findall(rf"^([01xz]){re.escape(code)}$", text, re.M)
    assert values.count("1") == SAMPLES and done.tc == 2 * SAMPLES - (values[-1] == "1")
    assert nets[((), "rst")].tc == 1  # X -> 1 is no toggle; 1 -> 0 is
    activity = read_switching_activity(saif)
    toggles = {(g.layer, g.group): g.toggles for g in activity.groups}
    for group in ("weight_rom", "accumulators", "multipliers", "neuron", "membrane_ram", "control"):
        assert toggles[("layer0", group)] > 0, group
    # the weight register holds P x W = 16 bits and changes at most once a cycle
    assert toggles[("layer0", "weight_rom")] <= 16 * activity.cycles


@pytest.mark.iverilog
def test_estimate_with_activity_prices_the_toggles(simulated, capsys):
    _base, _code, saif, _vcd, config = simulated
    code, out, err = _run(capsys, "estimate", "--config", str(config), "--target", "fpga-small",
                          "--activity", str(saif), "--json")
    assert code == 0, err
    doc = json.loads(out)["switching_activity"]
    assert doc["source"] == str(saif) and doc["model"] == "docs/cost-models.md#switching-activity"
    assert doc["inferences"] == SAMPLES and doc["simulator"] == "iverilog"
    assert doc["dynamic_energy_mj"] > 0 and doc["spike_count_dynamic_energy_mj"] > 0
    assert doc["dynamic_energy_mj"] != doc["spike_count_dynamic_energy_mj"]
    total = sum(g["energy_mj"] for g in doc["groups"])
    assert math.isclose(total, doc["dynamic_energy_mj"], rel_tol=1e-12)
    weight = next(g for g in doc["groups"] if g["layer"] == "layer0" and g["group"] == "weight_rom")
    assert math.isclose(weight["energy_mj"], weight["toggles_per_inference"] * weight["pj_per_toggle"] * 1e-9)
    code, out, _ = _run(capsys, "estimate", "--config", str(config), "--target", "fpga-small", "--activity", str(saif))
    assert code == 0
    assert "energy from switching activity" in out and "from spike counts of the same samples" in out


@pytest.mark.iverilog
def test_estimate_refuses_a_file_of_another_design_or_not_a_saif(simulated, capsys, tmp_path):
    _base, _code, saif, vcd, config = simulated
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**MLP.to_dict(), "widths": [24, 10]}))
    code, _out, err = _run(capsys, "estimate", "--config", str(other), "--target", "fpga-small", "--activity", str(saif))
    assert code == 2 and "another design" in err and len(err.strip().splitlines()) == 1
    code, _out, err = _run(capsys, "estimate", "--config", str(config), "--target", "fpga-small", "--activity", str(vcd))
    assert code == 2 and "not a SAIF" in err and len(err.strip().splitlines()) == 1
    headless = tmp_path / "headless.saif"
    headless.write_text(saif.read_text().split("\n", 1)[1])
    code, _out, err = _run(capsys, "estimate", "--config", str(config), "--target", "fpga-small",
                           "--activity", str(headless))
    assert code == 2 and "without the dse-activity header" in err


@pytest.mark.iverilog
def test_simulate_refuses_an_unwritable_saif_before_simulating(simulated, capsys, tmp_path):
    base, *_ = simulated
    code, _out, err = _run(capsys, "simulate", str(base / "design"), "--simulator", "iverilog",
                           "--saif", str(tmp_path / "missing" / "a.saif"))
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
