"""Targets (fpga-tiny/-small/-medium/-large, asic-45nm), device utilisation, pipeline throughput,
resource monotonicity (what the FPGA template promises) and capacity screening."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from cost_models import CostReport, TargetError, evaluate, layer_specs, list_targets, load_target, screen
from cost_models.fpga import bram18_count
from cost_models.targets import ENERGY_OPS, FPGA_CAPACITIES, REQUIRED_MEMORIES
from search_spaces.candidate import Candidate

REPO = Path(__file__).resolve().parents[1]
TARGETS = REPO / "cost_models" / "targets"
DOCS = REPO / "docs" / "cost-models.md"
FPGA_TARGETS = ("fpga-tiny", "fpga-small", "fpga-medium", "fpga-large")

# Device capacities (Xilinx DS180 / DS190 / DS891), as in /work/shared/reference/cost-models.md
DEVICES = {
    "fpga-tiny": {"lut": 20800, "ff": 41600, "bram18": 100, "dsp": 90},  # XC7A35T
    "fpga-small": {"lut": 53200, "ff": 106400, "bram18": 280, "dsp": 220},  # XC7Z020
    "fpga-medium": {"lut": 70560, "ff": 141120, "bram18": 432, "dsp": 360},  # XCZU3EG
    "fpga-large": {"lut": 274080, "ff": 548160, "bram18": 1824, "dsp": 2520},  # XCZU9EG
}


def mlp(widths=(128,), wbits=None, mbits=None, T=4, par=None, **kw) -> Candidate:
    n = len(widths)
    return Candidate(
        family="mlp", widths=widths, weight_bits=wbits or (4,) * (n + 1), membrane_bits=mbits or (8,) * n,
        timesteps=T, parallelism=par or (1,) * (n + 1), **kw,
    )


def conv(widths=(8, 16), pooling=("max", "none"), wbits=None, mbits=None, T=4, par=None, **kw) -> Candidate:
    n = len(widths)
    return Candidate(
        family="conv", widths=widths, pooling=pooling, weight_bits=wbits or (4,) * (n + 1),
        membrane_bits=mbits or (8,) * n, timesteps=T, parallelism=par or (1,) * (n + 1), **kw,
    )


# ---------------------------------------------------------------- shipped targets


def test_every_shipped_target_loads_with_a_source_per_constant():
    assert set(FPGA_TARGETS) | {"asic-45nm"} <= set(list_targets())
    for name in list_targets():
        t = load_target(name)
        expected = {"clock_hz", *(f"energy_pj.{op}" for op in ENERGY_OPS)}
        expected |= {f"memories.{m}" for m in REQUIRED_MEMORIES[t.kind]}
        if t.kind == "fpga":
            expected |= {"static_power_w", *(f"capacities.{c}" for c in FPGA_CAPACITIES)}
        assert expected <= set(t.sources), (name, expected - set(t.sources))
        for field, source in t.sources.items():
            assert len(source.strip()) > 20, (name, field)
            if source.startswith("derived"):
                assert "docs/cost-models.md#" in source, (name, field)


def test_derivation_anchors_exist_in_docs():
    text = DOCS.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for path in TARGETS.glob("*.yaml"):
        for ref in re.findall(r"docs/cost-models\.md#([\w-]+)", path.read_text()):
            assert ref in anchors, f"{path.name} cites docs/cost-models.md#{ref}, which has no anchor"


@pytest.mark.parametrize("name", FPGA_TARGETS)
def test_fpga_capacities_match_the_datasheets(name):
    t = load_target(name)
    assert t.kind == "fpga" and t.capacities == DEVICES[name]
    assert t.clock_hz == pytest.approx(1e8)
    assert 0.01 < t.static_power_w < 2.0


def test_static_power_grows_with_device_size_within_a_family():
    # 28 nm 7-series and 16 nm UltraScale+: static power scaled by LUT count from a measured anchor
    tiny, small = load_target("fpga-tiny"), load_target("fpga-small")
    medium, large = load_target("fpga-medium"), load_target("fpga-large")
    assert tiny.static_power_w == pytest.approx(0.113 * 20800 / 53200, rel=1e-2)
    assert medium.static_power_w == pytest.approx(0.694 * 70560 / 230400, rel=1e-2)
    assert large.static_power_w == pytest.approx(0.694 * 274080 / 230400, rel=1e-2)
    assert tiny.static_power_w < small.static_power_w and medium.static_power_w < large.static_power_w


def test_ultrascale_energy_is_the_7series_table_times_the_vccint_squared_factor():
    small, medium = load_target("fpga-small"), load_target("fpga-medium")
    factor = (0.85 / 1.0) ** 2
    for (b0, e0), (b1, e1) in zip(small.int_add_pj + small.int_mult_pj, medium.int_add_pj + medium.int_mult_pj):
        assert b0 == b1 and e1 == pytest.approx(e0 * factor, rel=1e-2)
    assert medium.fp32_add_pj == pytest.approx(small.fp32_add_pj * factor, rel=1e-2)
    assert medium.memories["bram18"].pj_per_bit == pytest.approx(small.memories["bram18"].pj_per_bit * factor, rel=1e-2)
    assert load_target("fpga-large").int_add_pj == medium.int_add_pj
    # same 28 nm fabric: fpga-tiny keeps fpga-small's table
    tiny = load_target("fpga-tiny")
    assert tiny.int_add_pj == small.int_add_pj and tiny.memories["lutram"].pj_per_bit == small.memories["lutram"].pj_per_bit


def _broken(tmp_path: Path, base: str, mutate) -> Path:
    data = yaml.safe_load((TARGETS / f"{base}.yaml").read_text())
    mutate(data)
    path = tmp_path / f"broken-{base}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("base", ["fpga-tiny", "fpga-medium", "fpga-large"])
@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d["capacities"]["bram18"].update(value=0), "capacities.bram18.value"),
        (lambda d: d["capacities"]["lut"].update(value=-20800), "capacities.lut.value"),
        (lambda d: d["capacities"]["dsp"].update(value=90.5), "capacities.dsp"),
        (lambda d: d["capacities"].pop("ff"), "capacities.ff"),
        (lambda d: d.pop("capacities"), "capacities"),
        (lambda d: d["capacities"].update(uram={"value": 96, "source": "x"}), "capacities.uram"),
        (lambda d: d["memories"].update(uram={"pj_per_bit": 1.0, "source": "x"}), "memories.uram"),
        (lambda d: d["memories"].pop("lutram"), "memories.lutram"),
        (lambda d: d["static_power_w"].update(value=0), "static_power_w.value"),
        (lambda d: d["clock_hz"].update(value=-1e8), "clock_hz.value"),
        (lambda d: d["static_power_w"].pop("source"), "static_power_w.source"),
    ],
)
def test_bad_target_files_fail_in_one_line_naming_file_and_field(tmp_path, base, mutate, field):
    path = _broken(tmp_path, base, mutate)
    with pytest.raises(TargetError) as err:
        load_target(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert path.name in msg and f"'{field}'" in msg


def test_unknown_target_lists_all_shipped():
    with pytest.raises(TargetError, match="fpga-large.*fpga-medium.*fpga-small.*fpga-tiny"):
        load_target("fpga-enormous")


# ---------------------------------------------------------------- utilisation


@pytest.mark.parametrize("name", FPGA_TARGETS)
def test_utilisation_is_percent_of_the_device(name):
    t = load_target(name)
    r = evaluate(conv(par=(4, 8, 2)), t)
    caps = t.capacities
    assert r.lut_util_pct == pytest.approx(100 * r.lut / caps["lut"])
    assert r.ff_util_pct == pytest.approx(100 * r.ff / caps["ff"])
    assert r.bram_util_pct == pytest.approx(100 * r.bram18 / caps["bram18"])
    assert r.dsp_util_pct == pytest.approx(100 * r.dsp / caps["dsp"])
    assert r.utilisation() == {"lut": r.lut_util_pct, "ff": r.ff_util_pct, "bram": r.bram_util_pct, "dsp": r.dsp_util_pct}
    for key in ("lut", "ff", "bram", "dsp"):  # layers add up to the total
        assert sum(getattr(l, f"{key}_util_pct") for l in r.layers) == pytest.approx(r.utilisation()[key])
    assert r.layers[0].lut_util_pct == pytest.approx(100 * r.layers[0].lut / caps["lut"])
    assert r.fits() is True
    d = json.loads(json.dumps(r.to_dict()))
    assert d["lut_util_pct"] == r.lut_util_pct and d["layers"][1]["bram_util_pct"] == r.layers[1].bram_util_pct
    assert CostReport.from_dict(d) == r


def test_same_design_uses_a_smaller_share_of_a_bigger_device():
    c = conv(par=(4, 8, 2))
    shares = [evaluate(c, name).lut_util_pct for name in FPGA_TARGETS]
    assert shares == sorted(shares, reverse=True)
    assert len({evaluate(c, name).lut for name in FPGA_TARGETS}) == 1  # resources do not depend on the device


def test_asic_has_no_utilisation_and_old_reports_still_load():
    r = evaluate(mlp(), "asic-45nm")
    assert r.utilisation() == {"lut": None, "ff": None, "bram": None, "dsp": None} and r.fits() is None
    assert all(l.lut_util_pct is None for l in r.layers)
    # a report stored before utilisation/throughput existed (Optuna user_attrs) still loads
    d = evaluate(mlp(), "fpga-small").to_dict()
    for key in ("lut_util_pct", "ff_util_pct", "bram_util_pct", "dsp_util_pct", "pipeline_interval_cycles",
                "throughput_inferences_per_s", "bottleneck_layer"):
        d.pop(key)
    for layer in d["layers"]:
        for key in ("lut_util_pct", "ff_util_pct", "bram_util_pct", "dsp_util_pct"):
            layer.pop(key)
    old = CostReport.from_dict(d)
    assert old.lut_util_pct is None and old.energy_mj == d["energy_mj"]


# ---------------------------------------------------------------- throughput


def test_throughput_is_clock_over_the_latency():
    """The template takes the next inference when one is done: interval = latency cycles."""
    r = evaluate(mlp(widths=(128,), par=(4, 2)), "fpga-small")
    l0, l1 = r.layers
    assert l0.latency_cycles == 32 * (4 * 64 + 4 * 8) + 2 * 4 + 1  # cost_models/latency.py, no activity
    assert r.pipeline_interval_cycles == r.latency_cycles == l0.latency_cycles + l1.latency_cycles
    assert r.bottleneck_layer == "layer0"
    assert r.throughput_inferences_per_s == pytest.approx(1e8 / r.latency_cycles)
    assert r.throughput_inferences_per_s == pytest.approx(1 / r.latency_s)
    # widening the bottleneck layer raises the throughput
    faster = evaluate(mlp(widths=(128,), par=(64, 2)), "fpga-small")
    assert faster.throughput_inferences_per_s > r.throughput_inferences_per_s


def test_throughput_with_activity_and_on_asic():
    from cost_models import activity_from_rate

    c = conv(par=(16, 4, 1))
    r = evaluate(c, "asic-45nm", activity_from_rate(c, 0.2))
    slowest = max(r.layers, key=lambda l: l.latency_cycles)
    assert r.bottleneck_layer == slowest.name
    assert r.throughput_inferences_per_s == pytest.approx(4e8 / r.latency_cycles)



# ---------------------------------------------------------------- monotonicity (what the template promises)


SHAPES = [
    ("mlp", lambda w, m, p: mlp(widths=(64, 32), wbits=(w, w, w), mbits=(m, m), par=(p, p, max(1, p // 4)))),
    ("conv", lambda w, m, p: conv(widths=(8, 16), wbits=(w, w, w), mbits=(m, m), par=(p, p, max(1, p // 4)))),
    ("mlp-784", lambda w, m, p: mlp(widths=(256,), wbits=(w, w), mbits=(m,), par=(p, p), input_shape=(1, 28, 28))),
]


def _res(c: Candidate) -> tuple[int, int, int, int]:
    r = evaluate(c, "fpga-small")
    return r.lut, r.ff, r.bram18, r.dsp


def _nondecreasing(values) -> bool:
    return all(a <= b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("shape,make", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("p", [1, 4, 16])
def test_ff_bram_dsp_grow_with_weight_bits_and_lut_within_each_multiplier_kind(shape, make, p):
    rs = {w: _res(make(w, 8, p)) for w in range(1, 17)}
    for k in (2, 3):  # BRAM18, DSP: nondecreasing over all widths
        assert _nondecreasing([rs[w][k] for w in range(1, 17)]), (shape, k)
    # LUT and FF: nondecreasing while layer 0's multiplier is in LUTs (W <= 4) and while it is in DSPs (W > 4);
    # at 4 -> 5 bits the multiplier moves to a DSP, which takes in its adder and registers, so they may drop
    # there (documented, docs/cost-models.md section 5)
    for k in (0, 1):
        assert _nondecreasing([rs[w][k] for w in range(1, 5)]), (shape, k)
        assert _nondecreasing([rs[w][k] for w in range(5, 17)]), (shape, k)
    assert rs[5][3] > rs[4][3]  # the DSP switch (the acc x M_i scale multipliers are DSPs at every width)
    # full precision (fp32) costs at least as much as any integer width
    fp = _res(make(None, 8, p))
    assert all(fp[k] >= rs[16][k] for k in range(4))


@pytest.mark.parametrize("shape,make", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("p", [1, 8])
def test_resources_grow_with_membrane_bits(shape, make, p):
    rs = [_res(make(4, m, p)) for m in range(2, 17)]
    for k in range(4):
        assert _nondecreasing([r[k] for r in rs]), (shape, k)
    assert rs[-1][0] > rs[0][0] and rs[-1][1] > rs[0][1]


@pytest.mark.parametrize("shape,make", SHAPES, ids=[s[0] for s in SHAPES])
def test_lut_ff_dsp_grow_and_latency_falls_with_parallelism_doubling(shape, make):
    ps = [1, 2, 4, 8, 16, 32, 64]
    for w in (2, 4, 8):
        reports = [evaluate(make(w, 8, p), "fpga-small") for p in ps]
        assert _nondecreasing([r.lut for r in reports]) and reports[-1].lut > reports[0].lut
        assert _nondecreasing([r.ff for r in reports]) and reports[-1].ff > reports[0].ff
        assert _nondecreasing([r.dsp for r in reports])
        # latency falls while P lowers every layer's group count (P up to the narrowest layer; the
        # search caps P at a layer's width, and a conv layer's P lanes are emitted one a cycle)
        narrow = min(spec.out_channels for spec in layer_specs(make(w, 8, 1))[:-1])
        rising = [r for p, r in zip(ps, reports) if p <= narrow]
        assert len(rising) >= 4
        assert all(a.latency_cycles > b.latency_cycles for a, b in zip(rising, rising[1:]))
        assert _nondecreasing([r.throughput_inferences_per_s for r in rising])
        assert len({r.memory_bytes for r in reports}) == 1  # what is stored does not depend on P


def test_bram_is_not_monotone_in_parallelism_and_the_model_says_why():
    # 8192 4-bit weights: P = 1..16 all need 2 RAMB18 (depth halves as width doubles), P = 32 needs
    # 4 (512x36 blocks), P = 64 puts the 128-deep memory in LUTRAM (0 BRAM, more LUTs)
    counts = [bram18_count(math.ceil(8192 / p), 4 * p) if math.ceil(8192 / p) > 128 else 0 for p in (1, 2, 4, 8, 16, 32, 64)]
    assert counts == [2, 2, 2, 2, 2, 4, 0]
    spec = lambda p: layer_specs(mlp(widths=(128,), par=(p, 1)))[0]  # noqa: E731
    reports = {p: evaluate(mlp(widths=(128,), par=(p, 1)), "fpga-small").layers[0] for p in (16, 32, 64)}
    assert reports[32].bram18 > reports[16].bram18 > reports[64].bram18 == 0
    assert reports[64].weight_memory_kind == "lutram" and reports[64].lut > reports[32].lut
    assert spec(64).n_weights == 8192


# ---------------------------------------------------------------- capacity screening


def test_wide_conv_is_over_capacity_on_fpga_tiny_and_screened():
    wide = conv(widths=(32, 32), pooling=("none", "none"), wbits=(8, 8, 8), mbits=(16, 16), par=(16, 16, 4),
                input_shape=(1, 28, 28))
    tiny = screen(wide, "fpga-tiny", {})
    assert not tiny.feasible and tiny.constraints["bram_capacity"] > 0
    assert tiny.violations == [f"bram = {tiny.report.bram18:,} > capacity 100 of fpga-tiny"]
    assert tiny.report.bram_util_pct > 100 and tiny.report.fits() is False
    for name in ("fpga-small", "fpga-medium", "fpga-large"):
        res = screen(wide, name, {})
        assert res.feasible and res.report.fits() is True, name
    assert screen(wide, "fpga-large", {}).report.bram_util_pct < screen(wide, "fpga-small", {}).report.bram_util_pct


def test_lut_capacity_screens_a_highly_parallel_design_on_the_smallest_devices():
    big = mlp(widths=(512, 512), wbits=(4, 4, 4), mbits=(16, 16), par=(256, 256, 16), input_shape=(1, 28, 28))
    assert screen(big, "fpga-tiny", {}).constraints["lut_capacity"] > 0
    assert screen(big, "fpga-large", {}).constraints["lut_capacity"] <= 0
