"""The exported Verilog equals the integer reference simulation bit for bit (iverilog + vvp)."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.fpga import SCALE_CODE_BITS, timestep_acc_bits, weight_memory_depth
from cost_models.network import layer_specs
from dse.errors import UserError
from dse.hardware.synthetic import random_input_codes, random_integer_network
from dse.hardware.testbench import simulate_verilog
from dse.hardware.verilog_template import layer_parameters, verilog_design, weight_mem_lines
from dse.export.integer_sim import simulate
from search_spaces.candidate import Candidate

from _services import require_tool


# (sizes, weight bits, membrane bits, P): weights 1-8 bits, membranes 4-16 bits, P in {1, 2, 4}
DESIGNS = [
    ((16, 12, 5), (4, 3), (8,), (4, 2)),
    ((20, 9, 7, 3), (1, 2, 8), (4, 16), (1, 4, 2)),
    ((24, 10, 6), (8, 1), (12,), (2, 1)),
    ((12, 8, 8, 4), (5, 7, 2), (6, 10), (4, 1, 4)),
]


def _reference(net, codes):
    return simulate(net, codes.reshape(codes.shape[0], 1, 1, -1))


def _assert_bit_exact(net, codes, tmp_path):
    ref = _reference(net, codes)
    run = simulate_verilog(verilog_design(net), codes, net.timesteps, workdir=tmp_path)
    assert sum(int(s.sum()) for s in ref.spikes) > 0, "a design that never spikes tests nothing"
    for layer, (a, b) in enumerate(zip(ref.spikes, run.spikes)):
        assert np.array_equal(a.reshape(b.shape), b), f"spikes of layer {layer} differ"
    assert np.array_equal(ref.logits.astype(object), run.logits)
    sums = ref.logits.astype(object) // np.maximum(net.layers[-1].multiplier.astype(object), 1)
    nonzero = net.layers[-1].multiplier > 0
    assert np.array_equal(sums[:, nonzero], run.readout_sums[:, nonzero])
    return run


@pytest.mark.iverilog
@pytest.mark.parametrize("sizes,wbits,mbits,par", DESIGNS, ids=["-".join(map(str, d[0])) for d in DESIGNS])
def test_verilog_spikes_and_logits_equal_the_integer_simulation(sizes, wbits, mbits, par, tmp_path):
    require_tool("iverilog", "vvp")
    net = random_integer_network(sizes, wbits, mbits, par, timesteps=4, seed=len(sizes) + sum(wbits))
    codes = random_input_codes(sizes[0], 6, seed=3)
    _assert_bit_exact(net, codes, tmp_path)


@pytest.mark.iverilog
def test_verilog_of_a_real_model_export_equals_the_integer_simulation(tmp_path):
    """The path a user takes: SpikingNet -> integer_network (hardware F) -> Verilog."""
    require_tool("iverilog", "vvp")
    torch = pytest.importorskip("torch")
    from dse.export.integer_network import integer_network
    from dse.training.model import build_model

    torch.manual_seed(0)
    cand = Candidate(family="mlp", widths=(12,), weight_bits=(4, 3), membrane_bits=(6,), timesteps=3,
                     parallelism=(4, 2), input_shape=(1, 4, 4), num_classes=4)
    model = build_model(cand)
    with torch.no_grad():
        model.weight_layers[0].weight.mul_(4.0)  # a random init this small rarely reaches threshold
    net = integer_network(model, in_step=0.25, scale_bits="auto")
    codes = random_input_codes(16, 8, seed=5)
    _assert_bit_exact(net, codes, tmp_path)


def test_verilog_parameters_are_the_cost_models_quantities():
    net = random_integer_network((64, 32, 10), (4, 4), (8,), (4, 2))
    cand = Candidate(family="mlp", widths=(32,), weight_bits=(4, 4), membrane_bits=(8,), timesteps=4,
                     parallelism=(4, 2), input_shape=(1, 1, 64), num_classes=10)
    for prm, spec, layer in zip(layer_parameters(net), layer_specs(cand), net.layers):
        assert prm.groups * prm.n_in == weight_memory_depth(spec)
        assert len(weight_mem_lines(layer, prm)) == weight_memory_depth(spec)
        assert prm.acc == timestep_acc_bits(4, spec.fan_in, 8 if spec.index == 0 else 1)
        assert prm.mb == SCALE_CODE_BITS and prm.p == spec.parallelism
    ro = layer_parameters(net)[-1]
    assert ro.readout == 1 and ro.racc == layer_specs(cand)[-1].membrane_bits  # 4 + 5 + 2 + 1 = 12
    assert layer_parameters(net)[0].wstyle == "block" and ro.sstyle == "auto"  # 512 deep; 5 deep


def test_weight_words_pack_p_codes_lowest_unit_first():
    net = random_integer_network((3, 2, 2), (4, 4), (8,), (2, 2))
    layer = net.layers[0]
    layer.codes = np.array([[1, -1, 7], [-7, 0, 2]])
    prm = layer_parameters(net)[0]
    assert weight_mem_lines(layer, prm) == ["91", "0f", "27"]  # unit 1 in the high nibble


def test_refuses_what_the_template_cannot_express():
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.layers[0].multiplier = net.layers[0].multiplier * 2**SCALE_CODE_BITS
    with pytest.raises(UserError, match=r"layer0: multipliers M_i need \d+ bits.*scale bits 'auto'"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.layers[0].kind = "conv"
    with pytest.raises(UserError, match="conv layers are not in the Verilog template; accepted: fully connected"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.layers[0].threshold_lsb = 5
    with pytest.raises(UserError, match="threshold 5 LSBs"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.input_kind = "events"  # one frame per step: the template's input buffer holds one static input
    with pytest.raises(UserError, match="events input: .*accepted: networks of static inputs"):
        verilog_design(net)


def test_dse_export_verilog_writes_the_design_and_refuses_conv_leaving_nothing(tmp_path):
    torch = pytest.importorskip("torch")
    from dse.export import ExportContext, export_to

    from dse.training.model import build_model

    torch.manual_seed(0)
    cand = Candidate(family="mlp", widths=(8,), weight_bits=(4, 4), membrane_bits=(8,), timesteps=2,
                     parallelism=(2, 2), input_shape=(1, 4, 4), num_classes=3)
    ctx = ExportContext(model=build_model(cand), dataset="digits", source="test")
    files = export_to(ctx, ["verilog", "mem"], tmp_path / "out")
    assert all(p.is_file() for p in files)
    names = {p.name for p in files}
    assert {"snn_layer.v", "snn_top.v", "verilog_layer0_weights.mem", "verilog_layer1_scales.mem",
            "verilog_params.json"} <= names
    expected = verilog_design(ctx.integer_net).files
    assert (tmp_path / "out/snn_top.v").read_text() == expected["snn_top.v"]
    assert len((tmp_path / "out/verilog_layer0_weights.mem").read_text().split()) == 4 * 16  # 4 groups x 16 inputs
    for i in (0, 1):  # the `mem` format's words are the Verilog ROM's words
        for kind in ("weights", "scales"):
            mine = [int(x, 16) for x in (tmp_path / f"out/verilog_layer{i}_{kind}.mem").read_text().split()]
            theirs = [int(x, 16) for x in (tmp_path / f"out/layer{i}_{kind}.mem").read_text().split()]
            assert mine == theirs

    conv = Candidate(family="conv", widths=(4,), weight_bits=(4, 4), membrane_bits=(8,), timesteps=2,
                     pooling=("none",), parallelism=(2, 2), input_shape=(1, 4, 4), num_classes=3)
    ctx = ExportContext(model=build_model(conv), dataset="digits", source="test")
    with pytest.raises(UserError, match="layer0: conv layers are not in the Verilog template") as err:
        export_to(ctx, ["verilog"], tmp_path / "conv")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "conv").exists() and not list(tmp_path.glob(".conv*"))
