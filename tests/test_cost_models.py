"""Tests of the analytic cost models: hand counts, SpikingJelly cross-checks, FINN BRAM cases,
energy monotonicity, target validation and screening."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cost_models import (
    Activity,
    CostReport,
    LayerActivity,
    TargetError,
    build_network,
    constraint_values,
    evaluate,
    layer_specs,
    list_targets,
    load_target,
    quantity,
    screen,
    weight_layers,
)
from cost_models.energy import add_pj, memory_access_pj, mult_pj
from cost_models.fpga import bram18_count, map_memory
from cost_models.ops import conv_fanout_map, count_acs
from search_spaces.candidate import Candidate

REPO = Path(__file__).resolve().parents[1]


def mlp(widths=(32,), wbits=(4, 4), mbits=(8,), T=4, **kw) -> Candidate:
    return Candidate(family="mlp", widths=widths, weight_bits=wbits, membrane_bits=mbits, timesteps=T, **kw)


def conv(widths=(4, 6), pooling=("max", "none"), wbits=(4, 4, 4), mbits=(8, 8), T=4, **kw) -> Candidate:
    return Candidate(
        family="conv", widths=widths, pooling=pooling, weight_bits=wbits, membrane_bits=mbits,
        timesteps=T, **kw,
    )


@pytest.fixture(scope="module")
def asic():
    return load_target("asic-45nm")


@pytest.fixture(scope="module")
def fpga():
    return load_target("fpga-small")


# ---------------------------------------------------------------- network description


def test_mlp_graph_attributes():
    g = build_network(mlp(widths=(128,), T=4))
    layers = weight_layers(g)
    assert [l["name"] for l in layers] == ["layer0", "layer1"]
    l0, l1 = layers
    assert (l0["in_shape"], l0["out_shape"], l0["fan_in"], l0["n_weights"]) == ((64,), (128,), 64, 8192)
    assert l0["input_is_spike"] is False and l0["spiking"] is True and l0["membrane_bits"] == 8
    assert l1["input_is_spike"] is True and l1["spiking"] is False
    # readout accumulator: W + ceil(log2 fan_in) + ceil(log2 T) + 1 = 4 + 7 + 2 + 1
    assert l1["membrane_bits"] == 14
    assert g.graph["timesteps"] == 4


def test_readout_accumulator_full_precision_is_32():
    specs = layer_specs(mlp(wbits=(None, None), mbits=(None,)))
    assert specs[-1].membrane_bits == 32


def test_conv_graph_shapes_and_pooling_nodes():
    g = build_network(conv(widths=(8, 16), pooling=("max", "none")))
    assert list(g.nodes) == ["layer0", "pool0", "layer1", "layer2"]
    l0, l1, l2 = weight_layers(g)
    assert l0["in_shape"] == (1, 8, 8) and l0["out_shape"] == (8, 8, 8) and l0["fan_in"] == 9
    assert l0["pool_after"] == "max"
    assert l1["in_shape"] == (8, 4, 4) and l1["out_shape"] == (16, 4, 4)
    assert l1["n_weights"] == 16 * 8 * 9 and l1["n_neurons"] == 16 * 16
    assert l2["kind"] == "linear" and l2["in_shape"] == (256,) and l2["n_weights"] == 2560


# ---------------------------------------------------------------- memory


def test_memory_bits_by_hand(asic):
    c = mlp(widths=(32,), wbits=(4, 8), mbits=(6,), T=4)
    r = evaluate(c, asic)
    l0, l1 = r.layers
    assert l0.weight_memory_bits == 64 * 32 * 4
    assert l1.weight_memory_bits == 32 * 10 * 8
    assert l0.membrane_memory_bits == 32 * 6
    acc = 8 + 5 + 2 + 1  # readout accumulator, fan_in 32, T 4
    assert l1.membrane_memory_bits == 10 * acc
    assert r.scale_memory_bytes == 16 * (32 + 10) / 8
    assert r.memory_bytes == (64 * 32 * 4 + 32 * 10 * 8 + 32 * 6 + 10 * acc + 16 * 42) / 8


def test_full_precision_memory_is_fp32_without_scales(asic):
    r = evaluate(mlp(widths=(32,), wbits=(None, None), mbits=(None,)), asic)
    assert r.weight_memory_bytes == (64 * 32 + 32 * 10) * 4
    assert r.scale_memory_bytes == 0
    assert r.layers[0].membrane_memory_bits == 32 * 32


def test_quantizer_profile_storage_and_state(asic, fpga, monkeypatch):
    from search_spaces import quantizer_types as qt

    prof = qt.QuantizerProfile(
        name="test-stateless-per-step", paper="test only", weight_bits=(2, 4), membrane_bits=(),
        has_membrane_state=False, weights_per_timestep=True,
    )
    monkeypatch.setitem(qt.PROFILES, prof.name, prof)
    c = mlp(widths=(32,), wbits=(4, 4), mbits=(None,), T=3, quantizer=prof.name)
    r = evaluate(c, asic)
    l0, l1 = r.layers
    assert l0.weight_memory_bits == 3 * 64 * 32 * 4  # one weight set per timestep
    assert l0.membrane_memory_bits == 0 and l0.membrane_memory_energy_mj == 0
    assert l1.membrane_memory_bits > 0  # the readout accumulator still lives across T
    rf = evaluate(c, fpga)
    # one 4-bit set read per use: width P x 4, depth 2048 x 3 sets
    assert rf.layers[0].bram18 == math.ceil(3 * 2048 / 4096)

    coded = qt.QuantizerProfile(
        name="test-coded", paper="test only", weight_bits=(4,), membrane_bits=(8,),
        storage_bits_per_weight=lambda bits, T: bits + 1,
    )
    monkeypatch.setitem(qt.PROFILES, coded.name, coded)
    rc = evaluate(mlp(widths=(32,), T=3, quantizer=coded.name), asic)
    assert rc.layers[0].weight_memory_bits == 64 * 32 * 5


# ---------------------------------------------------------------- operation counts


def test_sops_hand_count_mlp(asic):
    # 64-32-10, T=4: layer0 is dense (MACs), 86 spikes reach the readout (86 x 10 ACs)
    c = mlp(widths=(32,), T=4)
    act = Activity({"layer0": LayerActivity(54.0, 86.0), "layer1": LayerActivity(86.0, 0.0)})
    r = evaluate(c, asic, act)
    assert r.macs == 4 * 64 * 32
    assert r.acs == 86 * 10
    assert r.sops == 4 * 64 * 32 + 86 * 10
    assert r.lower_bound is False


def test_sops_hand_count_two_hidden_layers(asic):
    c = mlp(widths=(32, 16), wbits=(4, 4, 4), mbits=(8, 8), T=2)
    act = Activity({"layer1": LayerActivity(54.0, 30.0), "layer2": LayerActivity(30.0, 0.0)})
    r = evaluate(c, asic, act)
    assert r.acs == 54 * 16 + 30 * 10
    assert r.macs == 2 * 64 * 32


def test_conv_fanout_hand_count():
    m = conv_fanout_map(4, 4, 3, 1)
    assert m[0, 0] == 4 and m[0, 1] == 6 and m[1, 1] == 9
    assert m.sum() == 4 * 4 * 9 - 2 * (4 * 3 + 4 * 3) + 4  # 144 - border losses, exact
    spec = layer_specs(conv(widths=(4, 6), pooling=("max", "none")))[1]  # in (4,4,4) -> 6 ch
    corner = np.zeros(spec.in_shape)
    corner[2, 0, 0] = 1.0
    assert count_acs(spec, corner) == 4 * 6
    center = np.zeros(spec.in_shape)
    center[0, 1, 1] = 3.0  # three events over T at one position
    assert count_acs(spec, center) == 3 * 9 * 6


def test_float_events_use_mean_fanout():
    spec = layer_specs(conv())[1]
    uniform = np.full(spec.in_shape, 0.5)
    assert count_acs(spec, float(uniform.sum())) == pytest.approx(count_acs(spec, uniform))


def test_layer0_conv_macs_exact_with_padding(asic):
    c = conv(widths=(4, 6), T=3)
    r = evaluate(c, asic)
    per_step = 1 * 4 * int(conv_fanout_map(8, 8, 3, 1).sum())
    assert r.layers[0].macs == 3 * per_step
    assert r.acs == 0 and r.lower_bound


def _record_inputs(net, names):
    """Forward pre-hooks that keep each weight layer's input (T, B, ...)."""
    store = {}
    hooks = []
    for name, module in zip(names, [m for m in net if hasattr(m, "weight")]):
        hooks.append(module.register_forward_pre_hook(lambda m, a, n=name: store.__setitem__(n, a[0].detach())))
    return store, hooks


def _synops_check(net, x, candidate, asic):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based.op_counter import DispatchCounterMode, SynOpCounter

    specs = layer_specs(candidate)
    names = [s.name for s in specs]
    store, hooks = _record_inputs(net, names)
    counter = SynOpCounter()
    with torch.no_grad(), DispatchCounterMode([counter]):
        net(x)
    for h in hooks:
        h.remove()
    batch = x.shape[1]
    layers = {}
    for spec in specs:
        inp = store[spec.name]  # (T, B, ...)
        events = inp.ne(0).sum(dim=0).double().mean(dim=0).numpy()  # per position, summed over T
        layers[spec.name] = LayerActivity(events.reshape(spec.in_shape), 0.0)
        if spec.input_is_spike:
            assert float(inp.sum()) > 0, f"{spec.name} got no spikes; the check would be vacuous"
    report = evaluate(candidate, asic, Activity(layers))
    counts = {k: sum(v.values()) for k, v in counter.get_counts().items()}
    modules = [i for i, m in enumerate(net) if hasattr(m, "weight")]
    for spec, idx in zip(specs, modules):
        expected = counts.get(f"Sequential.{idx}", 0)
        got = next(l.acs for l in report.layers if l.name == spec.name) * batch
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6), spec.name
    assert report.acs * batch == pytest.approx(counter.get_total(), rel=1e-9)
    return report


def test_acs_equal_spikingjelly_synopcounter_mlp(asic):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    T, B = 4, 5
    net = torch.nn.Sequential(
        layer.Linear(64, 32, bias=False), neuron.LIFNode(step_mode="m"),
        layer.Linear(32, 16, bias=False), neuron.LIFNode(step_mode="m"),
        layer.Linear(16, 10, bias=False),
    )
    functional.set_step_mode(net, "m")
    for m in net:
        if hasattr(m, "weight"):
            torch.nn.init.uniform_(m.weight, -0.3, 0.4)
    x = torch.rand(T, B, 64)
    c = mlp(widths=(32, 16), wbits=(4, 4, 4), mbits=(8, 8), T=T)
    report = _synops_check(net, x, c, asic)
    assert report.acs > 0 and report.macs == T * 64 * 32


def test_acs_equal_spikingjelly_synopcounter_conv(asic):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(1)
    T, B = 3, 4
    net = torch.nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1, bias=False), neuron.LIFNode(step_mode="m"),
        layer.MaxPool2d(2, 2),
        layer.Conv2d(4, 6, 3, padding=1, bias=False), neuron.LIFNode(step_mode="m"),
        layer.Flatten(),
        layer.Linear(6 * 4 * 4, 10, bias=False),
    )
    functional.set_step_mode(net, "m")
    for m in net:
        if hasattr(m, "weight"):
            torch.nn.init.uniform_(m.weight, -0.1, 0.5)
    x = torch.rand(T, B, 1, 8, 8) * 2.0
    c = conv(widths=(4, 6), pooling=("max", "none"), T=T)
    report = _synops_check(net, x, c, asic)
    assert report.layers[1].acs > 0 and report.layers[2].acs > 0


# ---------------------------------------------------------------- FPGA packing and resources


@pytest.mark.parametrize(
    "depth,width,expected",
    [
        (392, 1024, 29),  # FINN-R worked example: 784 -> 128, P = Q = 16, W = 4
        (16384, 1, 1), (16385, 1, 2),
        (8192, 2, 1), (8193, 2, 2),
        (4096, 4, 1), (4096, 3, 1), (4097, 4, 2),
        (2048, 8, 1), (2049, 9, 2),
        (1024, 18, 1), (1025, 18, 2), (600, 36, 2),
        (512, 36, 1), (513, 36, 2), (512, 72, 2), (512, 37, 2),
    ],
)
def test_bram18_count_finn(depth, width, expected):
    assert bram18_count(depth, width) == expected


def test_finn_worked_example_dimensions():
    P = Q = 16
    omega = 784 * 128 // (P * Q)
    assert bram18_count(omega, P * Q * 4) == 29


def test_small_memories_go_to_lutram():
    m = map_memory(128, 8)
    assert m.kind == "lutram" and m.bram18 == 0 and m.lutram_luts == 8 * 2
    assert map_memory(129, 8).kind == "bram18"


def test_template_memories_of_conv_and_event_designs_by_hand():
    """The memories the Verilog template declares (tests/test_verilog.py compares them with the
    exported designs): conv membranes padded per group, the pooled output map as the spikes,
    the event buffers of layer 0, and the readout's 2 extra bits after an average pool."""
    from cost_models.fpga import buffer_memory_bits, layer_counts

    conv = Candidate("conv", (4, 5), (3, 4, 4), (8, 6), 2, pooling=("max", "avg"), parallelism=(3, 2, 2),
                     input_shape=(2, 7, 7), num_classes=5, input_kind="events")
    l0, l1, l2 = (layer_counts(s).memories for s in layer_specs(conv))
    # frame of 2 x 7 x 7 = 98 pixels in beats of 8 (a row of 7, rounded up to a power of two)
    assert (l0["inputs"].depth, l0["inputs"].width, l0["inputs"].kind) == (13, 8, "lutram")
    # 4 channels by P = 3: 2 groups x 49 positions (not ceil(196 / 3) = 66), 3 x 8 bits
    assert (l0["membranes"].depth, l0["membranes"].width) == (2 * 49, 3 * 8)
    # max-pooled map 4 x 3 x 3, one bit a value (not an event list of 196 neurons)
    assert (l0["spikes"].depth, l0["spikes"].width, l0["spikes"].kind) == (36, 1, "lutram")
    assert (l1["membranes"].depth, l1["spikes"].depth, l1["spikes"].width) == (3 * 9, 5, 3)  # avg: sums 0..4
    assert l1["inputs"].kind == "none" and l2["spikes"].kind == "none"
    readout = layer_specs(conv)[-1]
    assert readout.membrane_bits == (4 + 3 + 1 + 1) + 2  # accumulator_bits(4, 5, 2) + 2 for the sums 0..4
    assert (l2["membranes"].depth, l2["membranes"].width) == (3, 2 * 11)
    assert buffer_memory_bits(layer_specs(conv)[0]) == 13 * 8 + 36

    events_mlp = Candidate("mlp", (16,), (4, 1), (6,), 3, parallelism=(4, 3), input_shape=(2, 4, 4),
                           num_classes=5, input_kind="events")
    m0 = layer_counts(layer_specs(events_mlp)[0]).memories
    assert (m0["inputs"].depth, m0["inputs"].width) == (32, 5)  # event list of the 32-pixel frame
    assert (m0["spikes"].depth, m0["spikes"].width) == (16, 4)

    static = Candidate("conv", (6,), (6, 4), (8,), 2, pooling=("max",), parallelism=(2, 2), input_shape=(1, 8, 8),
                       num_classes=3)
    s0 = layer_counts(layer_specs(static)[0]).memories
    assert (s0["inputs"].depth, s0["inputs"].width) == (64, 8)
    assert (s0["membranes"].depth, s0["membranes"].kind, s0["membranes"].bram18) == (192, "bram18", 1)
    assert (s0["spikes"].depth, s0["spikes"].width, s0["spikes"].kind) == (96, 1, "lutram")
    assert evaluate(static, "fpga-small").bram18 == 2  # membranes + the readout's 192-word weight ROM (yosys: 2)


def test_static_mlp_memories_are_unchanged_by_the_conv_and_event_buffers(fpga):
    """Static MLPs: membranes ceil(n / P) deep, spikes an n x ceil(log2 n) event list, 8-bit
    input codes; the per-layer buffer bits are those two buffers."""
    from cost_models.fpga import layer_counts

    c = mlp(widths=(10,), parallelism=(4, 3))
    s0, s1 = layer_specs(c)
    m0 = layer_counts(s0).memories
    assert (m0["membranes"].depth, m0["spikes"].depth, m0["spikes"].width) == (3, 10, 4)
    assert (m0["inputs"].depth, m0["inputs"].width) == (64, 8)
    r = evaluate(c, fpga)
    from cost_models.report import layer_static

    assert layer_static(s0, fpga).hardware.buffer_memory_bits == 64 * 8 + 10 * 4
    assert layer_static(s1, fpga).hardware.buffer_memory_bits == 0
    assert r.memory_bytes == (r.weight_memory_bytes + r.membrane_memory_bytes + r.scale_memory_bytes)


def test_fpga_latency_and_resources_by_hand(fpga):
    r = evaluate(mlp(widths=(128,), T=4, parallelism=(4, 2)), fpga)
    l0, l1 = r.layers
    # cost_models/latency.py, no activity: layer 0 scans its 64 static inputs per group of 4 neurons
    # and timestep (+ 8 control cycles per group, 2 per step to hand over, 1 to take start); the
    # readout's 5 groups see no events
    assert l0.latency_cycles == 32 * (4 * 64 + 4 * 8) + 2 * 4 + 1
    assert l1.latency_cycles == 5 * (0 + 4 * 8) + 2 * 4
    assert r.latency_s == pytest.approx((l0.latency_cycles + l1.latency_cycles) / 1e8)
    # weight memory of layer 0: width 4 x 4 = 16 bits, depth 8192 / 4 = 2048 -> 2 x 1 BRAM18
    assert l0.weight_memory_kind == "bram18" and l0.bram18 == math.ceil(2048 / 1024) * 1
    # 4-bit x 8-bit weight multipliers in LUTs; one acc x M_i scale multiplier per unit in a DSP
    # (acc 4 + 8 + 6 = 18 bits x 18 bits); the readout's 2 units multiply their sums by M_i
    assert l0.dsp == 4 and l1.dsp == 2
    r8 = evaluate(mlp(widths=(128,), wbits=(8, 8), T=4, parallelism=(4, 2)), fpga)
    assert r8.layers[0].dsp == 4 + 4 and r8.dsp == 8 + 2  # + one 8 x 8 weight multiplier per unit
    assert r.lut > 2 * 300 and r.ff > 0


def test_parallelism_trades_latency_for_luts(fpga):
    slow = evaluate(mlp(widths=(128,), parallelism=(1, 1)), fpga)
    fast = evaluate(mlp(widths=(128,), parallelism=(16, 2)), fpga)
    assert fast.latency_s < slow.latency_s
    assert fast.lut > slow.lut


# ---------------------------------------------------------------- energy


def test_op_energy_anchors(asic):
    assert add_pj(asic, 8) == pytest.approx(0.03)
    assert add_pj(asic, 32) == pytest.approx(0.1)
    assert 0.03 < add_pj(asic, 16) < 0.1
    assert mult_pj(asic, 8, 8) == pytest.approx(0.2)
    assert mult_pj(asic, 32, 32) == pytest.approx(3.1)
    assert mult_pj(asic, 4, 8) < mult_pj(asic, 8, 8)
    assert add_pj(asic, None) == 0.9 and mult_pj(asic, None, 8) == 3.7
    sram = asic.memories["sram"]
    assert memory_access_pj(sram, 64, 8192) == pytest.approx(10)
    assert memory_access_pj(sram, 64, 32768) == pytest.approx(20)
    assert memory_access_pj(sram, 64, 2**20) == pytest.approx(100)
    assert memory_access_pj(sram, 32, 8192) == pytest.approx(5)


def _activity(c: Candidate, events: float = 40.0) -> Activity:
    return Activity({s.name: LayerActivity(events, events) for s in layer_specs(c) if s.input_is_spike})


@pytest.mark.parametrize("target_name", ["asic-45nm", "fpga-small"])
@pytest.mark.parametrize("with_activity", [False, True])
def test_energy_grows_with_weight_and_membrane_bits(target_name, with_activity):
    def energy(wb, mb):
        c = mlp(widths=(64,), wbits=(wb, wb), mbits=(mb,))
        return evaluate(c, target_name, _activity(c) if with_activity else None).energy_mj

    assert energy(2, 8) < energy(4, 8) < energy(8, 8) < energy(None, 8)
    assert energy(4, 4) < energy(4, 8) < energy(4, 16) < energy(4, None)


@pytest.mark.parametrize("target_name", ["asic-45nm", "fpga-small"])
def test_energy_and_latency_grow_with_timesteps(target_name):
    def report(T):
        c = mlp(widths=(64,), T=T)
        return evaluate(c, target_name, Activity({"layer1": LayerActivity(10.0 * T, 0.0)}))

    rs = [report(T) for T in (1, 2, 4, 8)]
    assert all(a.energy_mj < b.energy_mj for a, b in zip(rs, rs[1:]))
    assert all(a.latency_s < b.latency_s for a, b in zip(rs, rs[1:]))
    lower = [evaluate(mlp(widths=(64,), T=T), target_name) for T in (1, 2, 4, 8)]
    assert all(a.energy_mj < b.energy_mj for a, b in zip(lower, lower[1:]))


def test_lower_bound_is_below_measured(fpga):
    c = conv()
    lb = evaluate(c, fpga)
    act = Activity({"layer1": LayerActivity(30.0, 20.0), "layer2": LayerActivity(20.0, 0.0)})
    full = evaluate(c, fpga, act)
    assert lb.lower_bound and not full.lower_bound
    for q in ("energy", "sops"):
        assert quantity(lb, q) < quantity(full, q)
    for q in ("memory", "lut", "bram", "dsp", "ff"):
        assert quantity(lb, q) == quantity(full, q)
    # conv layers and the layer after a conv scan every input value: their cycles do not depend on
    # the spikes (cost_models/latency.py); an MLP's event lists do
    assert lb.latency_cycles == full.latency_cycles
    m = mlp(widths=(32,))
    busy = evaluate(m, fpga, Activity({"layer1": LayerActivity(30.0, 0.0)}))
    quiet = evaluate(m, fpga, Activity({"layer0": LayerActivity(0.0, 30.0), "layer1": LayerActivity(0.0, 0.0)}))
    assert evaluate(m, fpga).latency_cycles < busy.latency_cycles
    assert quiet.latency_cycles - evaluate(m, fpga).latency_cycles == 30  # one S_EMIT cycle per spike


def test_fpga_static_energy_is_power_times_latency(fpga):
    r = evaluate(mlp(), fpga)
    assert r.static_energy_mj == pytest.approx(0.113 * r.latency_s * 1e3)
    assert r.energy_mj == pytest.approx(r.compute_energy_mj + r.memory_energy_mj + r.static_energy_mj)
    assert sum(l.energy_mj for l in r.layers) == pytest.approx(r.energy_mj)


def test_activity_validation(asic):
    c = mlp()
    with pytest.raises(ValueError, match="layer7"):
        evaluate(c, asic, Activity({"layer1": LayerActivity(1.0), "layer7": LayerActivity(1.0)}))
    with pytest.raises(ValueError, match="layer1"):
        evaluate(c, asic, Activity({"layer0": LayerActivity(1.0)}))


# ---------------------------------------------------------------- report


def test_report_json_roundtrip(fpga):
    c = conv()
    events = np.ones(layer_specs(c)[1].in_shape, dtype=np.float32)
    act = Activity({"layer1": LayerActivity(events, np.float64(3.0)), "layer2": LayerActivity(np.float64(5.0))})
    r = evaluate(c, fpga, act)
    d = json.loads(json.dumps(r.to_dict()))
    assert CostReport.from_dict(d) == r
    assert Activity.from_dict(json.loads(json.dumps(act.to_dict()))).layers["layer2"].input_events == 5.0


def test_quantity_names(fpga, asic):
    r = evaluate(mlp(), fpga)
    assert quantity(r, "energy") == r.energy_mj and r.quantity("bram") == r.bram18
    assert quantity(r, "memory") == r.memory_bytes and quantity(r, "latency") == r.latency_s
    with pytest.raises(ValueError, match="accepted"):
        quantity(r, "power")
    ra = evaluate(mlp(), asic)
    assert quantity(ra, "lut") is None and ra.bram18 is None and ra.dsp is None


# ---------------------------------------------------------------- targets


def test_shipped_targets_load_and_cite_sources():
    assert {"asic-45nm", "fpga-small"} <= set(list_targets())
    for name in list_targets():
        t = load_target(name)
        assert t.sources and all(s.strip() for s in t.sources.values())
    f = load_target("fpga-small")
    assert f.capacities == {"lut": 53200, "ff": 106400, "bram18": 280, "dsp": 220}
    assert f.produces("lut") and f.produces("energy")
    a = load_target("asic-45nm")
    assert not a.produces("lut") and not a.produces("bram") and a.produces("latency")


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((REPO / "cost_models/targets/fpga-small.yaml").read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d.pop("clock_hz"), "clock_hz"),
        (lambda d: d["clock_hz"].update(value=0), "clock_hz.value"),
        (lambda d: d["static_power_w"].update(value=-0.1), "static_power_w.value"),
        (lambda d: d.update(voltage={"value": 1.0, "source": "x"}), "voltage"),
        (lambda d: d["memories"].update(uram={"pj_per_bit": 1.0, "source": "x"}), "memories.uram"),
        (lambda d: d["capacities"]["lut"].pop("source"), "capacities.lut.source"),
        (lambda d: d["capacities"].pop("dsp"), "capacities.dsp"),
        (lambda d: d["energy_pj"]["int_add"].update(anchors={8: 0.4}), "energy_pj.int_add.anchors"),
        (lambda d: d["memories"]["bram18"].update(pj_per_bit="fast"), "memories.bram18.pj_per_bit"),
        (lambda d: d.update(kind="gpu"), "kind"),
    ],
)
def test_target_validation_errors(tmp_path, mutate, field):
    path = _broken(tmp_path, mutate)
    with pytest.raises(TargetError) as err:
        load_target(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "broken.yaml" in msg and f"'{field}'" in msg


def test_unknown_target_lists_known():
    with pytest.raises(TargetError, match="asic-45nm.*fpga-small"):
        load_target("fpga-huge")
    assert issubclass(TargetError, ValueError)


# ---------------------------------------------------------------- screening


def test_screen_flags_over_budget(fpga):
    c = mlp(widths=(128,))
    lb = evaluate(c, fpga)
    ok = screen(c, fpga, {"memory": lb.memory_bytes * 2, "energy": lb.energy_mj * 2})
    assert ok.feasible and not ok.violations and all(v <= 0 for v in ok.constraints.values())
    bad = screen(c, fpga, {"energy": lb.energy_mj / 2, "memory": lb.memory_bytes * 2})
    assert not bad.feasible
    assert bad.constraints["energy"] == pytest.approx(1.0)
    assert len(bad.violations) == 1 and bad.violations[0].startswith("energy >= ")
    assert list(bad.constraints) == ["energy", "memory", "lut_capacity", "ff_capacity", "bram_capacity", "dsp_capacity"]


def test_screen_flags_device_capacity(fpga):
    big = mlp(widths=(1024, 1024), wbits=(8, 8, 8), mbits=(16, 16), input_shape=(1, 28, 28))
    res = screen(big, fpga, {})
    assert res.constraints["bram_capacity"] > 0 and not res.feasible
    assert any(v.startswith("bram = ") for v in res.violations)


def test_constraint_values_after_training_match_keys(fpga, asic):
    c = mlp()
    budgets = {"latency": 1e-3, "sops": 1e5}
    full = evaluate(c, fpga, _activity(c))
    assert list(constraint_values(full, fpga, budgets)) == list(screen(c, fpga, budgets).constraints)
    with pytest.raises(ValueError, match="produces no 'lut'"):
        screen(c, asic, {"lut": 1000})
    with pytest.raises(ValueError, match="positive"):
        screen(c, fpga, {"energy": 0})
    assert list(screen(c, asic, budgets).constraints) == ["latency", "sops"]


# ---------------------------------------------------------------- boundaries


def test_cost_models_import_no_torch_or_optuna():
    code = "import sys, cost_models; assert not {'torch', 'optuna'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env={"PYTHONPATH": str(REPO)})


def test_screening_is_fast(fpga):
    c = conv(widths=(16, 32), pooling=("max", "max"), T=8)
    screen(c, fpga, {"energy": 1.0})  # warm caches
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        screen(c, fpga, {"energy": 1.0, "memory": 1e5})
    assert (time.perf_counter() - start) / n < 2e-3
