"""`dse estimate`, activity_from_rate, and the SpikingJelly compatibility mode (cost_models.compat)
checked against spikingjelly's own op_counter on the same networks and inputs."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from cost_models import (
    Activity,
    LayerActivity,
    activity_from_rate,
    evaluate,
    layer_specs,
    spikingjelly_simple_energy,
    synops,
)
from dse.cli import estimate
from dse.errors import UserError
from search_spaces.candidate import Candidate

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "studies" / "examples" / "mlp-64-128-10.yaml"
CONV_EXAMPLE = REPO / "studies" / "examples" / "conv-8m-16-10.yaml"


def invoke(argv: list[str]) -> int:
    """`dse ARGV` through dse.cli.main (a UserError -> one line on stderr, exit 2)."""
    from dse.cli import main

    return main(argv)


def example() -> Candidate:
    return estimate.load_candidate(EXAMPLE)


def write(tmp_path: Path, data, name: str = "cand.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


# ---------------------------------------------------------------- activity_from_rate


def test_activity_from_rate_by_hand_mlp():
    c = Candidate(family="mlp", widths=(128, 32), weight_bits=(4, 4, 4), membrane_bits=(8, 8), timesteps=4)
    act = activity_from_rate(c, 0.1)
    assert act.layers["layer0"].input_events == 64 * 4  # dense analog input, every element each step
    assert act.layers["layer0"].output_spikes == pytest.approx(0.1 * 128 * 4)
    assert act.layers["layer1"].input_events == pytest.approx(0.1 * 128 * 4)
    assert act.layers["layer2"].input_events == pytest.approx(0.1 * 32 * 4)
    assert act.layers["layer2"].output_spikes == 0.0  # the readout does not fire
    r = evaluate(c, "asic-45nm", act)
    assert r.acs == pytest.approx(0.1 * 128 * 4 * 32 + 0.1 * 32 * 4 * 10)
    assert not r.lower_bound


def test_activity_from_rate_counts_after_pooling():
    c = Candidate(family="conv", widths=(8, 16), pooling=("max", "none"), weight_bits=(4, 4, 4),
                  membrane_bits=(8, 8), timesteps=2)
    act = activity_from_rate(c, 0.25)
    assert act.layers["layer1"].input_events == pytest.approx(0.25 * 8 * 4 * 4 * 2)  # 8x8 pooled to 4x4
    assert act.layers["layer2"].input_events == pytest.approx(0.25 * 16 * 4 * 4 * 2)
    assert act.layers["layer0"].output_spikes == pytest.approx(0.25 * 8 * 8 * 8 * 2)  # before pooling


def test_activity_from_rate_zero_equals_the_lower_bound_and_rate_is_checked():
    c = example()
    zero = evaluate(c, "fpga-small", activity_from_rate(c, 0.0))
    lb = evaluate(c, "fpga-small")
    assert zero.energy_mj == lb.energy_mj and zero.latency_cycles == lb.latency_cycles
    rs = [evaluate(c, "fpga-small", activity_from_rate(c, r)) for r in (0.0, 0.05, 0.2, 1.0)]
    assert all(a.energy_mj < b.energy_mj and a.sops < b.sops for a, b in zip(rs, rs[1:]))
    for bad in (-0.1, 1.5, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="firing rate"):
            activity_from_rate(c, bad)


# ---------------------------------------------------------------- dse estimate


def test_example_candidate_loads_and_is_the_documented_network():
    c = example()
    assert c.family == "mlp" and c.widths == (128,) and c.weight_bits == (4, 4) and c.membrane_bits == (8,)
    assert c.timesteps == 4 and c.parallelism == (16, 2) and c.input_shape == (1, 8, 8)
    assert estimate.load_candidate(CONV_EXAMPLE).pooling == ("max", "none")


def test_estimate_prints_a_per_layer_and_total_table(capsys):
    code = invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-small"])
    out = capsys.readouterr().out
    assert code == 0
    report = evaluate(example(), "fpga-small", activity_from_rate(example(), 0.1))
    for fragment in ("layer0", "layer1 (readout)", "total", "LUT %", "BRAM %", "throughput",
                     "inferences/s", "fits", f"{report.lut:,}", "firing rate 0.1"):
        assert fragment in out, fragment
    assert f"{report.throughput_inferences_per_s:,.0f} inferences/s" in out


def test_estimate_json_is_the_report(capsys):
    code = invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-medium", "--firing-rate", "0.2", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    c = example()
    expected = json.loads(json.dumps(evaluate(c, "fpga-medium", activity_from_rate(c, 0.2)).to_dict()))
    assert doc == expected
    assert doc["target"] == "fpga-medium" and doc["lower_bound"] is False
    assert doc["lut_util_pct"] == pytest.approx(100 * doc["lut"] / 70560)
    assert doc["throughput_inferences_per_s"] > 0 and doc["layers"][0]["lut_util_pct"] > 0


def test_estimate_rate_zero_is_the_screening_lower_bound(capsys):
    assert invoke(["estimate", "--config", str(CONV_EXAMPLE), "--target", "fpga-tiny", "--firing-rate", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lower_bound"] is True
    assert doc == json.loads(json.dumps(evaluate(estimate.load_candidate(CONV_EXAMPLE), "fpga-tiny").to_dict()))
    assert invoke(["estimate", "--config", str(CONV_EXAMPLE), "--target", "fpga-tiny", "--firing-rate", "0"]) == 0
    assert "lower bound" in capsys.readouterr().out


def test_estimate_accepts_a_target_file_and_asic(tmp_path, capsys):
    target = REPO / "cost_models" / "targets" / "fpga-large.yaml"
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", str(target), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "fpga-large"
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", "asic-45nm"]) == 0
    out = capsys.readouterr().out
    assert "layer0" in out and "LUT %" not in out and "throughput" in out


def test_estimate_reports_an_over_capacity_design(tmp_path, capsys):
    wide = {"family": "conv", "widths": [32, 32], "pooling": ["none", "none"], "weight_bits": [8, 8, 8],
            "membrane_bits": [16, 16], "timesteps": 4, "parallelism": [16, 16, 4], "input_shape": [1, 28, 28]}
    path = write(tmp_path, wide)
    assert invoke(["estimate", "--config", str(path), "--target", "fpga-tiny"]) == 0
    assert "DOES NOT FIT (BRAM18 over capacity)" in capsys.readouterr().out


def test_estimate_reads_a_pareto_front_member_and_fp_labels(tmp_path, capsys):
    c = example()
    member = {"trial": 3, "accuracy": 0.9, "candidate": {**c.to_dict(), "weight_bits": ["fp", None]}}
    path = write(tmp_path, json.dumps(member), "member.json")
    assert invoke(["estimate", "--config", str(path), "--target", "fpga-small", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [l["weight_bits"] for l in doc["layers"]] == [None, None]


def test_estimate_roundtrips_candidate_to_dict(tmp_path):
    c = Candidate(family="conv", widths=(8, 16), pooling=("avg", "none"), weight_bits=(8, 2, None),
                  membrane_bits=(12, None), timesteps=6, parallelism=(4, 16, 1), quantizer_options={"scale": "max"})
    assert estimate.load_candidate(write(tmp_path, c.to_dict())) == c


def test_estimate_spikingjelly_flag(capsys):
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-small", "--spikingjelly", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    c = example()
    sj = spikingjelly_simple_energy(c, activity_from_rate(c, 0.1))
    assert doc["spikingjelly"]["energy_total_pj"] == pytest.approx(sj.energy_total_pj)
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-small", "--spikingjelly"]) == 0
    assert "SpikingJelly estimate_simple_energy equivalent" in capsys.readouterr().out


BASE = {"family": "mlp", "widths": [32], "weight_bits": [4, 4], "membrane_bits": [8], "timesteps": 4}


@pytest.mark.parametrize(
    "change,field",
    [
        ({"colour": "red"}, "colour"),
        ({"widths": [32, 0]}, "widths[1]"),
        ({"widths": "32"}, "widths"),
        ({"widths": []}, "widths"),
        ({"weight_bits": [4]}, "weight_bits"),
        ({"weight_bits": [4, 40]}, "weight_bits[1]"),
        ({"weight_bits": [4, "four"]}, "weight_bits[1]"),
        ({"membrane_bits": [8, 8]}, "membrane_bits"),
        ({"membrane_bits": [1]}, "membrane_bits[0]"),
        ({"timesteps": 0}, "timesteps"),
        ({"timesteps": 2.5}, "timesteps"),
        ({"family": "rnn"}, "family"),
        ({"quantizer": "magic"}, "quantizer"),
        ({"quantizer": "ternary"}, "weight_bits[0]"),
        ({"quantizer_options": {"scale": "median"}}, "quantizer_options"),
        ({"quantizer_options": ["scale"]}, "quantizer_options"),
        ({"parallelism": [4]}, "parallelism"),
        ({"parallelism": [4, -1]}, "parallelism[1]"),
        ({"pooling": ["max"]}, "pooling"),
        ({"input_shape": [8, 8]}, "input_shape"),
        ({"num_classes": 0}, "num_classes"),
        ({"tau": -2}, "tau"),
        ({"v_threshold": "high"}, "v_threshold"),
    ],
)
def test_bad_candidate_is_one_line_naming_field_and_file(tmp_path, capsys, change, field):
    path = write(tmp_path, {**BASE, **change})
    with pytest.raises(UserError) as err:
        estimate.load_candidate(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and f"'{field}'" in msg
    code = invoke(["estimate", "--config", str(path), "--target", "fpga-small"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and f"'{field}'" in captured.err


@pytest.mark.parametrize(
    "data,field",
    [
        ({"family": "conv", "widths": [8], "weight_bits": [4, 4], "membrane_bits": [8], "timesteps": 2}, "pooling"),
        ({"family": "conv", "widths": [8], "pooling": ["mean"], "weight_bits": [4, 4], "membrane_bits": [8], "timesteps": 2}, "pooling[0]"),
        ({"family": "conv", "widths": [8, 8, 8, 8], "pooling": ["max"] * 4, "weight_bits": [4] * 5,
          "membrane_bits": [8] * 4, "timesteps": 2}, "pooling[3]"),
        ({"family": "mlp", "widths": [8], "weight_bits": [4, 4], "membrane_bits": [8], "timesteps": 2,
          "quantizer": "mfp"}, "membrane_bits[0]"),
        ({"widths": [8], "weight_bits": [4, 4], "membrane_bits": [8], "timesteps": 2}, "family"),
    ],
)
def test_bad_conv_and_quantizer_combinations(tmp_path, data, field):
    with pytest.raises(UserError, match=f"'{re.escape(field)}'"):
        estimate.load_candidate(write(tmp_path, data))


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "cannot read candidate file"),
        ("family: [mlp\n", "not valid YAML at line"),
        ("- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_unreadable_candidate_files(tmp_path, capsys, content, fragment):
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    assert invoke(["estimate", "--config", str(path), "--target", "fpga-small"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and str(path) in err and len(err.strip().splitlines()) == 1


def test_bad_target_is_one_line(tmp_path, capsys):
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-huge"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'fpga-huge'" in err and len(err.strip().splitlines()) == 1
    data = yaml.safe_load((REPO / "cost_models/targets/fpga-tiny.yaml").read_text())
    data["capacities"]["bram18"]["value"] = 0
    bad = write(tmp_path, data, "my-board.yaml")
    assert invoke(["estimate", "--config", str(EXAMPLE), "--target", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "my-board.yaml" in err and "'capacities.bram18.value'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("rate", ["1.5", "-0.1", "lots", "nan"])
def test_bad_firing_rate_is_a_usage_error(capsys, rate):
    with pytest.raises(SystemExit) as exit_info:
        invoke(["estimate", "--config", str(EXAMPLE), "--target", "fpga-small", "--firing-rate", rate])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "firing rate" in err and len(err.strip().splitlines()) == 1


def test_every_option_has_help():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    p = estimate.add_parser(sub)
    for action in p._actions:
        if action.dest != "help":
            assert action.help and len(action.help) > 20, action.dest
    assert {a.dest for a in p._actions} >= {"config", "target", "firing_rate", "json", "spikingjelly"}


# ---------------------------------------------------------------- compatibility mode vs spikingjelly


def _sj_check(net, x, candidate):
    """Run spikingjelly's estimate_simple_energy and ours on the same network and input."""
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.op_counter.simple_energy import estimate_simple_energy

    functional.set_step_mode(net, "m")
    specs = layer_specs(candidate)
    store = {}
    modules = [m for m in net if hasattr(m, "weight")]
    hooks = [m.register_forward_pre_hook(lambda m, a, n=s.name: store.__setitem__(n, a[0].detach()))
             for m, s in zip(modules, specs)]
    functional.reset_net(net)
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    functional.reset_net(net)
    sj = estimate_simple_energy(net, x)
    batch = x.shape[1]
    layers = {}
    for spec in specs:
        events = store[spec.name].ne(0).sum(dim=0).double().mean(dim=0).numpy()  # per position, over T
        layers[spec.name] = LayerActivity(events.reshape(spec.in_shape), 0.0)
        if spec.input_is_spike:
            assert float(store[spec.name].sum()) > 0, f"{spec.name} got no spikes; the check would be vacuous"
    ours = spikingjelly_simple_energy(candidate, Activity(layers))
    counts = {k: v / batch for k, v in sj.counts.items()}
    assert ours.mac == pytest.approx(counts["mac"], rel=1e-12)
    assert ours.synop == pytest.approx(counts["synop"], rel=1e-9)
    assert ours.weight_read_bytes == pytest.approx(counts["weight_read_bytes"], rel=1e-9)
    assert ours.neuron_state_read_bytes == counts["neuron_state_read_bytes"]
    assert ours.neuron_state_write_bytes == counts["neuron_state_write_bytes"]
    assert ours.memory_access_bytes == pytest.approx(counts["memory_access_bytes"], rel=1e-9)
    assert ours.ac == pytest.approx(counts["ac"], rel=0.02)  # neuron ops: binary-operand special cases
    assert ours.energy_total_pj == pytest.approx(sj.energy_total_pj / batch, rel=0.01)
    assert synops(candidate, Activity(layers)) == ours.synop
    return ours, counts


def _init(net, lo, hi):
    import torch

    for m in net:
        if hasattr(m, "weight"):
            torch.nn.init.uniform_(m.weight, lo, hi)


@pytest.mark.parametrize("bits", [None, 8])
def test_compat_equals_spikingjelly_simple_energy_mlp(bits):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import layer

    from dse.training.neurons import FixedPointLIFNode

    torch.manual_seed(0)
    T, B = 4, 5
    net = torch.nn.Sequential(
        layer.Linear(64, 32, bias=False), FixedPointLIFNode(bits),
        layer.Linear(32, 16, bias=False), FixedPointLIFNode(bits),
        layer.Linear(16, 10, bias=False),
    )
    _init(net, -0.3, 0.4)
    c = Candidate(family="mlp", widths=(32, 16), weight_bits=(4, 4, 4), membrane_bits=(bits, bits), timesteps=T)
    ours, counts = _sj_check(net, torch.rand(T, B, 64), c)
    assert ours.mac == T * 64 * 32  # layer 0 reads the analog input
    # the network's own accounting agrees on the synaptic ops (no avg pooling here)
    assert ours.ac == pytest.approx(counts["ac"], rel=1e-9)


@pytest.mark.parametrize("pooling", [("max", "none"), ("avg", "avg"), ("none", "max")])
def test_compat_equals_spikingjelly_simple_energy_conv(pooling):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import layer, neuron

    torch.manual_seed(1)
    T, B = 3, 4
    blocks, size = [], 8
    for i, (c_in, c_out) in enumerate(((1, 4), (4, 6))):
        blocks += [layer.Conv2d(c_in, c_out, 3, padding=1, bias=False), neuron.LIFNode(step_mode="m")]
        if pooling[i] != "none":
            blocks.append(layer.MaxPool2d(2, 2) if pooling[i] == "max" else layer.AvgPool2d(2, 2))
            size //= 2
    blocks += [layer.Flatten(), layer.Linear(6 * size * size, 10, bias=False)]
    net = torch.nn.Sequential(*blocks)
    _init(net, -0.1, 0.5)
    c = Candidate(family="conv", widths=(4, 6), pooling=pooling, weight_bits=(4, 4, 4), membrane_bits=(None, None), timesteps=T)
    ours, counts = _sj_check(net, torch.rand(T, B, 1, 8, 8) * 2.0, c)
    if pooling == ("avg", "avg"):
        assert ours.synop == 0 and ours.mac > T * 4 * 9 * 64  # avg-pooled inputs are not spikes for spikingjelly
    else:
        report = evaluate(c, "asic-45nm", Activity({s.name: LayerActivity(0.0) for s in layer_specs(c)}))
        assert report.macs <= ours.mac  # ours: exact weight uses with padding; spikingjelly: dense


def test_compat_by_hand_and_presets():
    c = Candidate(family="mlp", widths=(32,), weight_bits=(4, 4), membrane_bits=(8,), timesteps=4)
    act = Activity({"layer1": LayerActivity(54.0, 0.0)})
    r = spikingjelly_simple_energy(c, act)
    assert r.mac == 4 * 64 * 32 and r.synop == 54 * 10
    assert r.ac == 54 * 10 + 8 * 32 * 4  # fixed-point LIF: 8 element-wise ops per neuron per step
    assert r.weight_read_bytes == 4 * (4 * 64 * 32 + 54 * 10)
    assert r.neuron_state_read_bytes == r.neuron_state_write_bytes == 32 * 4 * 4
    assert r.energy_total_pj == pytest.approx(r.mac * 4.6 + r.ac * 0.9 + r.memory_access_bytes * 24.96)
    assert r.energy_mj == pytest.approx(r.energy_total_pj * 1e-9)
    fp = spikingjelly_simple_energy(Candidate(family="mlp", widths=(32,), weight_bits=(4, 4), membrane_bits=(None,), timesteps=4), act)
    assert fp.ac == 54 * 10 + 6 * 32 * 4  # LIFNode: 6
    int8 = spikingjelly_simple_energy(c, act, e_mac_pj=0.23, e_ac_pj=0.03)
    assert int8.energy_total_pj < r.energy_total_pj
    assert json.loads(json.dumps(r.to_dict()))["layers"][1]["synop"] == 540
    none = spikingjelly_simple_energy(c, None)
    assert none.synop == 0 and none.mac == r.mac
    with pytest.raises(ValueError, match="e_ac_pj"):
        spikingjelly_simple_energy(c, act, e_ac_pj=-1)
    assert math.isclose(synops(c, act), 540)
    assert np.isfinite(r.energy_total_pj)


def test_input_kind_events_is_kept_and_drops_layer0_macs(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    static = estimate.load_candidate(EXAMPLE)
    events = estimate.load_candidate(write(tmp_path, {**data, "input_kind": "events"}))
    assert static.input_kind == "static" and events.input_kind == "events"
    rate = activity_from_rate(static, 0.1)
    assert evaluate(static, "fpga-small", rate).layers[0].macs > 0
    assert evaluate(events, "fpga-small", activity_from_rate(events, 0.1)).layers[0].macs == 0
    with pytest.raises(UserError, match="input_kind"):
        estimate.load_candidate(write(tmp_path, {**data, "input_kind": "audio"}))
