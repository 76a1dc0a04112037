"""The exported Verilog equals the integer reference simulation bit for bit (iverilog + vvp).

Matrix (networks built with the project's own builder, weights scaled so every layer fires,
16 samples each): MLP static and events, conv static and events (3x3, max and avg pooling,
even and odd map sizes), ternary (twn) and sigmoid MLPs on static and event input, and the added
integer forms TTQ, TaWQ, Q-SNN and MFP as MLPs on static and event input: identical spikes per layer
and timestep, logits and predicted class (argmax in hardware). Their memories equal the cost model's,
as do those of the same forms in conv layers (CONV_FORM_CASES, simulated in test_verilog_conv_types.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.fpga import SCALE_CODE_BITS, layer_counts, timestep_acc_bits, weight_memory_depth
from cost_models.network import layer_specs
from dse.errors import UserError
from dse.hardware.synthetic import random_input_codes, random_integer_network
from dse.hardware.testbench import simulate_verilog
from dse.hardware.verilog_template import layer_parameters, verilog_design, weight_mem_lines
from dse.export.integer_sim import simulate
from search_spaces.candidate import Candidate

from _cycles import model_cycles
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


def _assert_bit_exact(net, codes, tmp_path, cand=None):
    ref = _reference(net, codes)
    run = simulate_verilog(verilog_design(net), codes, net.timesteps, workdir=tmp_path)
    assert sum(int(s.sum()) for s in ref.spikes) > 0, "a design that never spikes tests nothing"
    for layer, (a, b) in enumerate(zip(ref.spikes, run.spikes)):
        assert np.array_equal(a.reshape(b.shape), b), f"spikes of layer {layer} differ"
    assert np.array_equal(ref.logits.astype(object), run.logits)
    sums = ref.logits.astype(object) // np.maximum(net.layers[-1].multiplier.astype(object), 1)
    nonzero = net.layers[-1].multiplier > 0
    assert np.array_equal(sums[:, nonzero], run.readout_sums[:, nonzero])
    assert np.array_equal(ref.predictions, run.predictions), "the hardware argmax differs"
    if cand is not None:  # every sample's cycles are cost_models/latency.py's, exactly
        assert run.cycles.tolist() == model_cycles(cand, ref.spikes, codes).tolist()
    return run


def _firing_model(cand, gains, seed=0):
    """The builder's model with hidden weights scaled by `gains` (an untrained init this small
    rarely reaches threshold); the readout keeps its init. A Q-SNN binary layer standardises its
    weights, so its learned channel gain (`affine: scale`) takes the factor instead."""
    import math

    import torch

    from dse.quantizers.qsnn import QSNNBinaryWeight
    from dse.training.model import build_model

    torch.manual_seed(seed)
    model = build_model(cand)
    with torch.no_grad():
        for layer, gain in zip(model.weight_layers[:-1], gains):
            if isinstance(layer.quantizer, QSNNBinaryWeight) and layer.quantizer.log_gain is not None:
                layer.quantizer.log_gain.add_(math.log(gain))
            else:
                layer.weight.mul_(gain)
    return model


def _inputs(cand, batch=16, seed=0, density=0.3):
    """Static: digits-like codes 0..16 [B, C, H, W]; events: 0/1 frames [T, B, C, H, W]."""
    rng = np.random.default_rng(seed)
    if cand.input_kind == "events":
        return (rng.random((cand.timesteps, batch, *cand.input_shape)) < density).astype(np.int64)
    codes = rng.integers(0, 17, size=(batch, *cand.input_shape))
    codes[rng.random(codes.shape) < 0.4] = 0
    return codes.astype(np.int64)


def _assert_builder_net_bit_exact(cand, gains, tmp_path, min_rate=0.01):
    from dse.export.integer_network import integer_network

    net = integer_network(_firing_model(cand, gains), 1.0 if cand.input_kind == "events" else 0.25, "auto")
    codes = _inputs(cand)
    ref = simulate(net, codes)
    for i, spikes in enumerate(ref.spikes):  # every layer fires: a silent layer would test nothing
        assert spikes.mean() >= min_rate, f"layer{i} fires at {spikes.mean():.4f}: the test network is too quiet"
    design = verilog_design(net)
    run = simulate_verilog(design, codes, net.timesteps, workdir=tmp_path)
    for layer, (a, b) in enumerate(zip(ref.spikes, run.spikes)):
        assert np.array_equal(a.reshape(b.shape), b), f"spikes of layer {layer} differ"
    assert np.array_equal(ref.logits.astype(object), run.logits)
    assert np.array_equal(ref.predictions, run.predictions), "the hardware argmax differs"
    assert run.cycles.tolist() == model_cycles(cand, ref.spikes, codes).tolist(), \
        "simulated cycles differ from cost_models/latency.py's"
    return net, design, run


# (candidate, per-layer weight gains): every case 16 samples, T = 2..4
BUILDER_CASES = {
    "mlp-static-uniform": (Candidate("mlp", (24, 12), (4, 2, 4), (8, 6), 3, parallelism=(4, 3, 2),
                                     input_shape=(1, 8, 8), num_classes=10), (3.0, 6.0)),
    "mlp-events-uniform": (Candidate("mlp", (16,), (4, 1), (6,), 3, parallelism=(4, 3), input_shape=(2, 4, 4),
                                     num_classes=5, input_kind="events"), (8.0,)),
    "conv-static-uniform-avg-max": (Candidate("conv", (4, 6), (4, 2, 4), (8, 6), 2, pooling=("avg", "max"),
                                              parallelism=(2, 4, 3), input_shape=(1, 8, 8), num_classes=5),
                                    (6.0, 32.0)),
    "conv-static-uniform-1bit-nopool": (Candidate("conv", (3,), (1, 1), (5,), 2, pooling=("none",),
                                                  parallelism=(2, 2), input_shape=(1, 6, 6), num_classes=4),
                                        (4.0,)),
    "conv-events-uniform-max-avg-odd": (Candidate("conv", (4, 5), (3, 4, 4), (8, 6), 2, pooling=("max", "avg"),
                                                  parallelism=(3, 2, 2), input_shape=(2, 7, 7), num_classes=5,
                                                  input_kind="events"), (12.0, 60.0)),
    "mlp-static-ternary": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="ternary", parallelism=(4, 2),
                                     input_shape=(1, 8, 8), num_classes=6), (2.0,)),
    "mlp-static-sigmoid": (Candidate("mlp", (16,), (2, 4), (8,), 3, quantizer="sigmoid", parallelism=(2, 3),
                                     input_shape=(1, 8, 8), num_classes=6), (2.0,)),
    "mlp-events-ternary": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="ternary", parallelism=(4, 2),
                                     input_shape=(2, 4, 4), num_classes=4, input_kind="events"), (6.0,)),
    "mlp-events-sigmoid": (Candidate("mlp", (16,), (2, 4), (8,), 3, quantizer="sigmoid", parallelism=(2, 3),
                                     input_shape=(2, 4, 4), num_classes=4, input_kind="events"), (6.0,)),
    # ternary TWN and sigmoid in conv layers: the uniform conv datapath with their codes (odd levels for sigmoid)
    "conv-static-ternary-max": (Candidate("conv", (4,), (2, 2), (6,), 2, pooling=("max",), quantizer="ternary",
                                          parallelism=(3, 2), input_shape=(1, 6, 6), num_classes=4), (4.0,)),
    "conv-events-ternary-avg": (Candidate("conv", (4,), (2, 2), (6,), 2, pooling=("avg",), quantizer="ternary",
                                          parallelism=(2, 2), input_shape=(2, 6, 6), num_classes=4,
                                          input_kind="events"), (8.0,)),
    "conv-static-sigmoid-avg": (Candidate("conv", (4,), (2, 4), (8,), 2, pooling=("avg",), quantizer="sigmoid",
                                          parallelism=(4, 2), input_shape=(1, 6, 6), num_classes=4), (4.0,)),
    "conv-events-sigmoid-max": (Candidate("conv", (4,), (1, 4), (8,), 2, pooling=("max",), quantizer="sigmoid",
                                          parallelism=(3, 2), input_shape=(2, 6, 6), num_classes=4,
                                          input_kind="events"), (8.0,)),
}
# the added integer forms (docs/integer-semantics.md, "Added forms"), built as tests/test_integer_forms.py builds
# them: TTQ (two multipliers), TaWQ (T code and scale sets), Q-SNN (level state, comparator bank), MFP (reset-free
# integrator), each on static input and on event frames, P dividing the widths and not
TTQ = {"algorithm": "ttq"}
ADDED_FORM_CASES = {
    "mlp-static-ttq": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="ternary", quantizer_options=TTQ,
                                 parallelism=(4, 2), input_shape=(1, 8, 8), num_classes=6), (2.0,)),
    "mlp-events-ttq": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="ternary", quantizer_options=TTQ,
                                 parallelism=(4, 2), input_shape=(2, 4, 4), num_classes=4, input_kind="events"), (6.0,)),
    "mlp-static-tawq": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="tawq", parallelism=(4, 3),
                                  input_shape=(1, 8, 8), num_classes=6), (2.0,)),
    "mlp-events-tawq-latent": (Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="tawq",
                                         quantizer_options={"scale": "latent"}, parallelism=(3, 2),
                                         input_shape=(2, 4, 4), num_classes=4, input_kind="events"), (6.0,)),
    # TaWQ as the paper: 8-bit first and readout layers (one weight set, WFORM 0) around a ternary per-timestep
    # hidden layer (WFORM 2) with the affine gain folded into its multipliers (the defaults edge_bits 8, affine scale)
    "mlp-static-tawq-edges": (Candidate("mlp", (16, 12), (8, 2, 8), (6, 5), 3, quantizer="tawq",
                                        parallelism=(4, 3, 2), input_shape=(1, 8, 8), num_classes=6), (8.0, 2.0)),
    "mlp-static-qsnn": (Candidate("mlp", (16, 12), (8, 1, 8), (6, 5), 3, quantizer="qsnn", parallelism=(4, 3, 2),
                                  input_shape=(1, 8, 8), num_classes=6), (2.0, 2.0)),
    "mlp-events-qsnn": (Candidate("mlp", (16, 12), (8, 1, 8), (6, 4), 3, quantizer="qsnn", parallelism=(4, 3, 2),
                                  input_shape=(2, 4, 4), num_classes=4, input_kind="events"), (6.0, 2.0)),
    "mlp-static-mfp": (Candidate("mlp", (16,), (4, 4), (None,), 3, quantizer="mfp", parallelism=(4, 2),
                                 input_shape=(1, 8, 8), num_classes=6), (2.0,)),
    "mlp-events-mfp-tau4": (Candidate("mlp", (16,), (1, 4), (None,), 3, quantizer="mfp", parallelism=(3, 2),
                                      input_shape=(2, 4, 4), num_classes=4, input_kind="events", tau=4.0), (6.0,)),
}
BUILDER_CASES.update(ADDED_FORM_CASES)
# the added forms in 3x3 conv layers (snn_conv.v WFORM 1/2, NEURON 1/2), each on static input and event frames,
# every pooling, P dividing the channels and not, a Q-SNN and an MFP conv reading pooled sums 0..4; simulated in
# tests/test_verilog_conv_types.py (16 samples each, T = 2..3, 6x6 maps)
CONV_FORM_CASES = {
    "conv-static-ttq-avg": (Candidate("conv", (4,), (2, 2), (6,), 2, pooling=("avg",), quantizer="ternary",
                                      quantizer_options=TTQ, parallelism=(3, 2), input_shape=(1, 6, 6),
                                      num_classes=4), (2.0,)),
    "conv-events-ttq-max": (Candidate("conv", (4,), (2, 2), (6,), 2, pooling=("max",), quantizer="ternary",
                                      quantizer_options=TTQ, parallelism=(2, 3), input_shape=(2, 6, 6),
                                      num_classes=4, input_kind="events"), (6.0,)),
    "conv-static-tawq-none": (Candidate("conv", (4,), (2, 2), (6,), 3, pooling=("none",), quantizer="tawq",
                                        parallelism=(2, 2), input_shape=(1, 6, 6), num_classes=4), (2.0,)),
    "conv-events-tawq-latent-avg": (Candidate("conv", (3,), (2, 2), (6,), 2, pooling=("avg",), quantizer="tawq",
                                              quantizer_options={"scale": "latent"}, parallelism=(2, 3),
                                              input_shape=(2, 6, 6), num_classes=4, input_kind="events"), (6.0,)),
    "conv-static-qsnn-avg-max": (Candidate("conv", (4, 4), (8, 1, 8), (6, 4), 2, pooling=("avg", "max"),
                                           quantizer="qsnn", parallelism=(2, 3, 2), input_shape=(1, 6, 6),
                                           num_classes=4), (2.0, 2.0)),
    "conv-events-qsnn-max": (Candidate("conv", (4,), (8, 8), (5,), 2, pooling=("max",), quantizer="qsnn",
                                       parallelism=(3, 2), input_shape=(2, 6, 6), num_classes=4,
                                       input_kind="events"), (6.0,)),
    "conv-static-mfp-avg-none": (Candidate("conv", (4, 3), (4, 2, 4), (None, None), 2, pooling=("avg", "none"),
                                           quantizer="mfp", parallelism=(2, 2, 2), input_shape=(1, 6, 6),
                                           num_classes=4), (2.0, 16.0)),
    "conv-events-mfp-tau4-max": (Candidate("conv", (4,), (1, 4), (None,), 3, pooling=("max",), quantizer="mfp",
                                           parallelism=(3, 2), input_shape=(2, 6, 6), num_classes=4,
                                           input_kind="events", tau=4.0), (16.0,)),
}


@pytest.mark.iverilog
@pytest.mark.parametrize("case", list(BUILDER_CASES))
def test_builder_networks_are_bit_exact_in_iverilog(case, tmp_path):
    """Spikes per layer and timestep, logits and the predicted class equal dse/export/integer_sim.py."""
    require_tool("iverilog", "vvp")
    pytest.importorskip("torch")
    cand, gains = BUILDER_CASES[case]
    net, design, run = _assert_builder_net_bit_exact(cand, gains, tmp_path)
    print(f"{case}: cycles per inference {int(run.cycles.min())}..{int(run.cycles.max())}")


@pytest.mark.iverilog
def test_event_stream_back_pressure_does_not_change_the_result(tmp_path):
    """Valid gaps on 0 %, 30 % and 70 % of cycles (ready low whenever the design computes): same spikes."""
    require_tool("iverilog", "vvp")
    pytest.importorskip("torch")
    from dse.export.integer_network import integer_network

    cand, gains = BUILDER_CASES["mlp-events-uniform"]
    net = integer_network(_firing_model(cand, gains), 1.0, "auto")
    codes = _inputs(cand, batch=8, seed=3)
    ref = simulate(net, codes)
    runs = [simulate_verilog(verilog_design(net), codes, net.timesteps, workdir=tmp_path, gap_percent=gap, seed=7)
            for gap in (0, 30, 70)]
    for run in runs:
        assert np.array_equal(ref.spikes[0].reshape(run.spikes[0].shape), run.spikes[0])
        assert np.array_equal(ref.predictions, run.predictions)
    # the gaps cost only the stalls, which the count leaves out: every sample's design cycles are the same
    # with any source, and cost_models/latency.py's
    assert runs[0].cycles.tolist() == runs[1].cycles.tolist() == runs[2].cycles.tolist()
    assert runs[0].cycles.tolist() == model_cycles(cand, ref.spikes, codes).tolist()


@pytest.mark.iverilog
def test_argmax_ties_go_to_the_lowest_class(tmp_path):
    """Classes 1 and 3 get the same readout row: equal logits, the hardware picks class 1 (as the reference)."""
    require_tool("iverilog", "vvp")
    pytest.importorskip("torch")
    import torch

    from dse.export.integer_network import integer_network

    cand = Candidate("mlp", (12,), (4, 4), (6,), 2, parallelism=(4, 2), input_shape=(1, 4, 4), num_classes=4)
    model = _firing_model(cand, (3.0,))
    with torch.no_grad():
        w = model.weight_layers[-1].weight
        w[1] = w[1].abs() + 1.0
        w[3] = w[1]
        w[0] = -w[1]
        w[2] = -w[1]
    net = integer_network(model, 0.25, "auto")
    codes = _inputs(cand, batch=8, seed=1)
    ref = simulate(net, codes)
    tied = [i for i, row in enumerate(ref.logits) if row[1] == row[3] and row[1] > 0]
    assert tied, "no sample with tied positive logits"
    run = simulate_verilog(verilog_design(net), codes.reshape(8, -1), net.timesteps, workdir=tmp_path)
    assert all(run.predictions[i] == 1 == ref.predictions[i] for i in tied)
    assert np.array_equal(ref.logits.astype(object), run.logits)


def _memory_table(cand, net):
    """(layer, role) -> (kind, depth, width) of the design and of cost_models.fpga.layer_counts."""
    design = verilog_design(net)
    mine = {(m.layer, m.role): (m.kind, m.depth, m.width) for m in design.memories}
    assert len(mine) == len(design.memories), "two declared memories share a (layer, role)"
    booked = {(spec.name, role): (mem.kind, mem.depth, mem.width)
              for spec in layer_specs(cand) for role, mem in layer_counts(spec).memories.items() if mem.kind != "none"}
    return mine, booked


# memory-only designs (built, not simulated) beside BUILDER_CASES: P dividing the channels or not,
# every pooling before a conv and before the readout, event frames of other beat counts, memories
# deep enough for BRAM18 (conv membranes, output maps, the event list, the frame)
MEMORY_CASES = {
    "mlp-static-bram-weights": Candidate("mlp", (12,), (6, 4), (8,), 2, parallelism=(1, 1), input_shape=(1, 4, 4),
                                         num_classes=3),  # tests/test_yosys.py's MLP
    "mlp-events-p-not-dividing": Candidate("mlp", (10, 6), (4, 4, 4), (6, 6), 2, parallelism=(3, 4, 2),
                                           input_shape=(1, 5, 5), num_classes=3, input_kind="events"),
    "mlp-events-bram-event-list": Candidate("mlp", (8,), (4, 4), (8,), 2, parallelism=(2, 2),
                                            input_shape=(2, 12, 12), num_classes=3, input_kind="events"),
    "conv-static-max-p-dividing": Candidate("conv", (6,), (6, 4), (8,), 2, pooling=("max",), parallelism=(2, 2),
                                            input_shape=(1, 8, 8), num_classes=3),  # tests/test_yosys.py's
    "conv-static-avg-readout": Candidate("conv", (4,), (4, 4), (8,), 2, pooling=("avg",), parallelism=(4, 2),
                                         input_shape=(1, 8, 8), num_classes=4),
    "conv-static-none-avg-p-not-dividing": Candidate("conv", (5, 3), (4, 4, 4), (8, 6), 2, pooling=("none", "avg"),
                                                     parallelism=(2, 2, 3), input_shape=(1, 6, 6), num_classes=4),
    "conv-static-bram-map": Candidate("conv", (3,), (4, 4), (8,), 2, pooling=("none",), parallelism=(2, 1),
                                      input_shape=(1, 16, 16), num_classes=3),
    "conv-events-avg-none-p-dividing": Candidate("conv", (4, 6), (4, 4, 4), (8, 6), 2, pooling=("avg", "none"),
                                                 parallelism=(2, 3, 5), input_shape=(2, 8, 8), num_classes=5,
                                                 input_kind="events"),
    "conv-events-bram-frame": Candidate("conv", (4,), (4, 4), (8,), 2, pooling=("max",), parallelism=(2, 2),
                                        input_shape=(9, 16, 16), num_classes=3, input_kind="events"),  # 144 beats
}
MEMORY_TABLE_CASES = {**{k: v[0] for k, v in {**BUILDER_CASES, **CONV_FORM_CASES}.items()}, **MEMORY_CASES}


@pytest.mark.parametrize("case", list(MEMORY_TABLE_CASES))
def test_declared_memories_are_the_cost_models(case):
    """Every memory a design declares (verilog_params.json "memories": layer, role, depth, width,
    kind) is booked by cost_models.fpga.layer_counts for the same layer and role with the same
    depth, width and kind, and nothing is booked that the design lacks: static and event MLPs,
    conv designs with max, avg and no pooling on static input and event frames, P dividing the
    channels and not, every quantizer type in MLPs and conv layers (docs/cost-models.md, FPGA template)."""
    torch = pytest.importorskip("torch")
    from cost_models.fpga import bram18_count, lutram_luts
    from dse.export.integer_network import integer_network
    from dse.training.model import build_model

    cand = MEMORY_TABLE_CASES[case]
    torch.manual_seed(0)
    net = integer_network(build_model(cand), 1.0 if cand.input_kind == "events" else 0.25, "auto")
    mine, booked = _memory_table(cand, net)
    for key in sorted(set(mine) | set(booked)):
        assert mine.get(key) == booked.get(key), (case, key, "declared", mine.get(key), "booked", booked.get(key))
    specs = layer_specs(cand)
    roles = {"weights", "scales", "membranes", "inputs"} | ({"spikes"} if len(specs) > 1 else set())
    if cand.quantizer in ("qsnn", "mfp"):
        roles.add("thresholds")  # the Q-SNN comparator bank's / MFP's per-timestep threshold ROM
    assert {k[1] for k in mine} == roles
    for spec in specs:  # per layer: the BRAM18s and LUTRAM LUTs of the declared memories are the booked ones
        counts = layer_counts(spec)
        declared = [v for k, v in mine.items() if k[0] == spec.name]
        assert counts.bram18 == sum(bram18_count(d, w) for kind, d, w in declared if kind == "bram18"), spec.name
        assert counts.memory_luts == sum(lutram_luts(d, w) for kind, d, w in declared if kind == "lutram"), spec.name


def test_memory_cases_cover_every_kind_of_design():
    """The matrix above holds what the brief of the memory comparison names: both families, both
    input kinds, every pooling, P dividing the channels and not, BRAM18 and LUTRAM buffers."""
    cands = list(MEMORY_TABLE_CASES.values())
    assert {(c.family, c.input_kind) for c in cands} == {("mlp", "static"), ("mlp", "events"),
                                                          ("conv", "static"), ("conv", "events")}
    for kind in ("static", "events"):
        convs = [c for c in cands if c.family == "conv" and c.input_kind == kind]
        assert {p for c in convs for p in c.pooling} == {"max", "avg", "none"}
        widths = [(w, p) for c in convs for w, p in zip(c.widths, c.parallelism)]
        assert any(w % p == 0 for w, p in widths) and any(w % p for w, p in widths)
    kinds = {(s.name == "layer0", role, m.kind) for c in cands for s in layer_specs(c)
             for role, m in layer_counts(s).memories.items()}
    assert {("spikes", "bram18"), ("spikes", "lutram"), ("inputs", "bram18"), ("membranes", "bram18")} <= \
        {(r, k) for _, r, k in kinds}
    frames = [layer_counts(layer_specs(c)[0]).memories["inputs"] for c in cands
              if c.family == "conv" and c.input_kind == "events"]
    assert {m.kind for m in frames} == {"bram18", "lutram"}


def test_verilog_params_json_lists_the_memories(tmp_path):
    torch = pytest.importorskip("torch")
    import json

    from dse.export import ExportContext, export_to
    from dse.training.model import build_model

    torch.manual_seed(0)
    cand = BUILDER_CASES["conv-events-uniform-max-avg-odd"][0]
    ctx = ExportContext(model=build_model(cand), dataset="digits-dvs", source="test", input_step=1.0)
    export_to(ctx, ["verilog"], tmp_path / "out")
    params = json.loads((tmp_path / "out/verilog_params.json").read_text())
    assert params["input_kind"] == "events" and params["event_stream"] == {"beats": 13, "beat_bits": 8, "pixels": 98}
    assert params["sources"] == ["snn_layer.v", "snn_conv.v", "snn_top.v"]
    assert (tmp_path / "out/snn_conv.v").is_file()
    mems = {(m["layer"], m["role"]): m for m in params["memories"]}
    assert mems[("layer0", "weights")] == {"layer": "layer0", "role": "weights", "name": "u_layer0.wrom",
                                           "width": 3 * 3, "depth": 2 * 18, "style": "auto", "kind": "lutram"}
    assert [l["module"] for l in params["layers"]] == ["snn_conv", "snn_conv", "snn_layer"]


@pytest.mark.iverilog
@pytest.mark.parametrize("sizes,wbits,mbits,par", DESIGNS, ids=["-".join(map(str, d[0])) for d in DESIGNS])
def test_verilog_spikes_and_logits_equal_the_integer_simulation(sizes, wbits, mbits, par, tmp_path):
    require_tool("iverilog", "vvp")
    net = random_integer_network(sizes, wbits, mbits, par, timesteps=4, seed=len(sizes) + sum(wbits))
    codes = random_input_codes(sizes[0], 6, seed=3)
    cand = Candidate("mlp", tuple(sizes[1:-1]), tuple(wbits), tuple(mbits), 4, parallelism=tuple(par),
                     input_shape=(1, 1, sizes[0]), num_classes=sizes[-1])
    _assert_bit_exact(net, codes, tmp_path, cand)


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
    _assert_bit_exact(net, codes, tmp_path, cand)


DESIGN_CANDIDATE = Candidate(family="mlp", widths=(12,), weight_bits=(6, 4), membrane_bits=(8,), timesteps=2,
                             parallelism=(1, 1), input_shape=(1, 4, 4), num_classes=3)  # tests/test_yosys.py's


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
    net.layers[0].kind = "pool"
    with pytest.raises(UserError, match="layer0: pool layers are not in the Verilog template; accepted: linear, conv"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.layers[0].kind = "conv"  # codes [out, in]: no 3x3 kernel
    with pytest.raises(UserError, match="layer0: 1x1 convolution; the Verilog template builds 3x3 convolutions"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.layers[0].threshold_lsb = 5
    with pytest.raises(UserError, match="threshold 5 LSBs"):
        verilog_design(net)
    net = random_integer_network((16, 8, 4), (4, 4), (8,), (2, 2))
    net.input_kind = "audio"
    with pytest.raises(UserError, match="audio input: .*accepted: static, events"):
        verilog_design(net)


@pytest.mark.parametrize("cand, match", [
    (Candidate("conv", (4,), (4, 4), (8,), 2, pooling=("none",), kernel_size=5, input_shape=(1, 8, 8),
               num_classes=3), r"layer0: 5x5 convolution; the Verilog template builds 3x3 convolutions"),
    (Candidate("conv", (4,), (4, 4), (8,), 2, pooling=("max",), kernel_size=1, input_shape=(1, 8, 8),
               num_classes=3), r"layer0: 1x1 convolution; the Verilog template builds 3x3"),
], ids=["kernel5", "kernel1"])
def test_refuses_conv_kernels_other_than_3x3_in_one_line(cand, match):
    torch = pytest.importorskip("torch")
    from dse.export.integer_network import integer_network
    from dse.training.model import build_model

    torch.manual_seed(0)
    net = integer_network(build_model(cand), 0.25, "auto")
    with pytest.raises(UserError, match=match) as err:
        verilog_design(net)
    assert "\n" not in str(err.value)


def test_dse_export_verilog_writes_the_design_and_refuses_a_5x5_conv_leaving_nothing(tmp_path):
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
                     pooling=("none",), parallelism=(2, 2), input_shape=(1, 4, 4), num_classes=3, kernel_size=5)
    ctx = ExportContext(model=build_model(conv), dataset="digits", source="test")
    with pytest.raises(UserError, match="layer0: 5x5 convolution; the Verilog template builds 3x3") as err:
        export_to(ctx, ["verilog"], tmp_path / "conv")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "conv").exists() and not list(tmp_path.glob(".conv*"))


@pytest.mark.iverilog
def test_static_codes_are_unsigned_8_bit_up_to_255(tmp_path):
    """Layer 0 reads unsigned 8-bit codes (dse/export/integer_network.py STATIC_INPUT_MAX_CODE), with
    1-bit odd-level weights: the widest accumulator case."""
    require_tool("iverilog", "vvp")
    net = random_integer_network((20, 9, 4), (1, 4), (8,), (3, 2), timesteps=3, seed=4, in_step=1 / 64)
    codes = random_input_codes(20, 8, seed=2, high=255)
    assert codes.max() > 127
    _assert_bit_exact(net, codes, tmp_path)


@pytest.mark.parametrize("family", ["mlp", "conv"])
def test_refuses_qsnn_membranes_above_12_bits_in_one_line(family):
    """A Q-SNN layer of 13+ membrane bits would need 2^b - 2 comparators a unit: refused at export in one line
    and screened at search time (template_refusal), in fully connected and conv layers alike."""
    torch = pytest.importorskip("torch")
    from dse.export.integer_network import integer_network
    from dse.hardware.verilog_template import template_refusal
    from dse.training.model import build_model

    torch.manual_seed(0)
    extra = {"pooling": ("max",)} if family == "conv" else {}
    cand = Candidate(family, (4,), (8, 8), (13,), 2, quantizer="qsnn", input_shape=(1, 6, 6), num_classes=3, **extra)
    assert "Q-SNN membrane bits 13" in template_refusal(cand)
    net = integer_network(build_model(cand), 0.25, "auto")
    with pytest.raises(UserError, match=r"layer0: Q-SNN membrane bits 13; the template's comparator bank takes 2..12") \
            as err:
        verilog_design(net)
    assert "\n" not in str(err.value)
    assert template_refusal(Candidate(family, (4,), (8, 8), (12,), 2, quantizer="qsnn", input_shape=(1, 6, 6),
                                      num_classes=3, **extra)) is None
