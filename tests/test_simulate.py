"""`dse export --format verilog` writes a self-checking testbench, vectors and synthesis scripts;
`dse simulate` runs them (dse/hardware/selfcheck.py, dse/cli/simulate.py, docs/export.md).

Designs: the project's builder networks with hidden weights scaled so every layer fires (as in
tests/test_verilog.py), exported with the digits data set (32 test samples) or, for event input,
seeded synthetic frames. Each simulation takes a few seconds in iverilog; yosys ~10 s.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from dse.cli import main
from search_spaces.candidate import Candidate

from _services import require_tool

MLP = (Candidate("mlp", (24, 12), (4, 2, 4), (8, 6), 3, parallelism=(4, 3, 2), input_shape=(1, 8, 8),
                 num_classes=10), (3.0, 6.0))
CONV = (Candidate("conv", (4, 6), (4, 2, 4), (8, 6), 2, pooling=("avg", "max"), parallelism=(2, 4, 3),
                  input_shape=(1, 8, 8), num_classes=10), (6.0, 32.0))
EVENTS = (Candidate("mlp", (16,), (4, 1), (6,), 3, parallelism=(4, 3), input_shape=(2, 4, 4), num_classes=5,
                    input_kind="events"), (8.0,))
SMALL = (Candidate("mlp", (12,), (6, 4), (8,), 2, parallelism=(1, 1), input_shape=(1, 4, 4), num_classes=3), (3.0,))


def _export(case, out, dataset="digits", input_step=None):
    """Export the firing builder network of `case` with `--format verilog` into out."""
    pytest.importorskip("torch")
    import torch

    from dse.export import ExportContext, export_to
    from dse.training.model import build_model

    cand, gains = case
    torch.manual_seed(0)
    model = build_model(cand)
    with torch.no_grad():
        for layer, gain in zip(model.weight_layers[:-1], gains):
            layer.weight.mul_(gain)
    ctx = ExportContext(model, dataset, "test", input_step=input_step)
    return export_to(ctx, ["verilog"], out)


def _simulate(capsys, folder, *extra):
    code = main(["simulate", str(folder), *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def mlp_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp") / "design"
    _export(MLP, out)
    return out


def test_export_writes_the_selfcheck_files_and_scripts(mlp_export):
    names = set(json.loads((mlp_export / "export.json").read_text())["files"])
    expected = {"tb_selfcheck.v", "selfcheck_inputs.mem", "selfcheck_expected_layer0.mem", "selfcheck_expected_layer1.mem",
                "selfcheck_expected_predictions.mem", "selfcheck.json", "synth.ys", "vivado.tcl"}
    assert expected <= names
    manifest = json.loads((mlp_export / "selfcheck.json").read_text())
    assert manifest["samples"] == 32 and manifest["inputs_source"]["source"] == "dataset"
    assert manifest["inputs_source"]["dataset"] == "digits" and len(manifest["inputs_source"]["labels"]) == 32
    rows = (mlp_export / "selfcheck_expected_layer0.mem").read_text().split()
    assert len(rows) == 32 * 3 and all(len(r) == 6 for r in rows)  # 24 neurons: 6 hex digits per (sample, t)
    assert sum(layer["expected_spikes"] for layer in manifest["layers"]) > 0
    params = json.loads((mlp_export / "verilog_params.json").read_text())
    synth = (mlp_export / "synth.ys").read_text()
    assert f"read_verilog -defer {' '.join(params['sources'])}" in synth
    assert "synth_xilinx -family xc7" in synth and "hierarchy -top snn_top" in synth
    assert "tee -q -o synth_stat.json stat -json" in synth
    tcl = (mlp_export / "vivado.tcl").read_text()
    assert "-part $part" in tcl and "set part xc7z020clg400-1" in tcl
    for report in ("vivado_utilization.rpt", "vivado_timing.rpt", "vivado_power.rpt"):
        assert f"-file {report}" in tcl
    assert "read_saif" in tcl
    for mem in ("verilog_layer0_weights.mem", "verilog_layer2_scales.mem"):
        assert mem in tcl


def test_parts_of_the_targets():
    from dse.hardware.selfcheck import fpga_part

    assert fpga_part("fpga-small")[:2] == ("xc7z020clg400-1", "xc7")
    assert fpga_part("fpga-small-calibrated")[:2] == ("xc7z020clg400-1", "xc7")
    assert fpga_part("fpga-tiny")[0].startswith("xc7a35t")
    assert fpga_part("fpga-medium")[:2] == ("xczu3eg-sbva484-1-e", "xcup")
    assert fpga_part(None)[0] == "xc7z020clg400-1"


@pytest.mark.iverilog
def test_simulate_mlp_export_agrees_100_percent(mlp_export, capsys):
    require_tool("iverilog", "vvp")
    code, out, err = _simulate(capsys, mlp_export, "--simulator", "iverilog")
    print(out)
    assert code == 0, err or out
    assert "predictions: 32/32 agree (100.00 %)" in out
    assert out.count("agree (100.00 %") == 3  # predictions, layer0, layer1
    assert "cycles per inference (measured" in out and "cost model latency (fpga-small" in out
    assert "cost model cycles with each sample's events and spikes: 32/32 samples equal the measured" in out
    assert "result: PASS" in out


@pytest.mark.iverilog
def test_simulate_conv_export_agrees_100_percent(tmp_path, capsys):
    require_tool("iverilog", "vvp")
    _export(CONV, tmp_path / "conv")
    code, out, err = _simulate(capsys, tmp_path / "conv", "--simulator", "iverilog", "--json")
    doc = json.loads(out)
    print(f"conv: cycles {min(doc['cycles'])}..{max(doc['cycles'])}, model {doc['latency_cycles_no_activity']} "
          f"(no activity), {doc['latency_cycles_measured_activity']} (measured activity)")
    assert code == 0 and doc["passed"]
    assert doc["predictions_matching"] == 32
    assert all(l["matching"] == l["total"] for l in doc["layers"]) and len(doc["layers"]) == 2
    assert len(doc["cycles"]) == 32 and min(doc["cycles"]) > 0
    # exact latency: every sample's cycles are the cost model's, and a conv net's do not depend on the
    # spikes, so the mean activity's latency is each sample's
    assert doc["cycles"] == doc["model_cycles_per_sample"] and doc["first_cycle_mismatch"] is None
    assert set(doc["cycles"]) == {doc["latency_cycles_measured_activity"]} == {doc["latency_cycles_no_activity"]}


@pytest.mark.iverilog
def test_simulate_event_export_agrees_100_percent(tmp_path, capsys):
    """No data set: seeded synthetic event frames stand in, streamed with 30 % valid gaps."""
    require_tool("iverilog", "vvp")
    _export(EVENTS, tmp_path / "ev", dataset=None, input_step=1.0)
    assert json.loads((tmp_path / "ev" / "selfcheck.json").read_text())["inputs_source"]["source"] == "synthetic"
    code, out, err = _simulate(capsys, tmp_path / "ev", "--simulator", "iverilog")
    print(out)
    assert code == 0, err or out
    assert "spikes layer0: 1536/1536 agree (100.00 %" in out
    assert "cost model cycles with each sample's events and spikes: 32/32 samples equal the measured" in out
    assert "stream stall cycles left out" in out


def _simulate_corrupted(capsys, mlp_export, tmp_path, name: str, edit) -> str:
    """Simulate a copy of the MLP export whose vector file `name` had its rows changed by edit(rows):
    the check must fail (exit 1); its output."""
    require_tool("iverilog", "vvp")
    folder = tmp_path / "corrupt"
    shutil.copytree(mlp_export, folder)
    path = folder / name
    rows = path.read_text().split()
    edit(rows)
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = _simulate(capsys, folder, "--simulator", "iverilog")
    assert code == 1
    return out


@pytest.mark.iverilog
def test_a_corrupted_expected_vector_exits_1_naming_layer_timestep_neuron(mlp_export, tmp_path, capsys):
    def flip_neuron_7(rows):
        row = 1 * 3 + 2  # sample 1, timestep 2 (T = 3)
        rows[row] = f"{int(rows[row], 16) ^ (1 << 7):0{len(rows[row])}x}"  # neuron 7

    out = _simulate_corrupted(capsys, mlp_export, tmp_path, "selfcheck_expected_layer1.mem", flip_neuron_7)
    assert "first mismatch at layer layer1 timestep 2 neuron 7 (sample 1)" in out
    assert "spikes layer1: 1151/1152 agree" in out and "spikes layer0: 2304/2304 agree" in out


@pytest.mark.iverilog
def test_a_corrupted_prediction_exits_1(mlp_export, tmp_path, capsys):
    def shift_sample_4(rows):
        rows[4] = f"{(int(rows[4], 16) + 1) % 10:x}"

    out = _simulate_corrupted(capsys, mlp_export, tmp_path, "selfcheck_expected_predictions.mem", shift_sample_4)
    assert "predictions: 31/32 agree" in out and "first prediction mismatch: sample 4" in out


@pytest.mark.iverilog
def test_cycles_that_differ_from_the_cost_model_exit_1(mlp_export, capsys, monkeypatch):
    """The cycle check can fail: a latency model one cycle off per group and timestep is caught."""
    require_tool("iverilog", "vvp")
    import cost_models.latency as latency

    monkeypatch.setattr(latency, "LINEAR_GROUP_OVERHEAD_CYCLES", latency.LINEAR_GROUP_OVERHEAD_CYCLES + 1)
    code, out, _ = _simulate(capsys, mlp_export, "--simulator", "iverilog")
    assert code == 1
    assert "0/32 samples equal the measured" in out
    assert re.search(r"result: FAIL: sample 0 took (\d+) cycles, the cost model counts (\d+)", out)


def test_not_an_export_exits_2_with_one_line(tmp_path, capsys, mlp_export):
    (tmp_path / "notes.txt").write_text("hello")
    for folder in (tmp_path, tmp_path / "absent"):
        code, out, err = _simulate(capsys, folder)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and "not" in err
    partial = tmp_path / "partial"
    shutil.copytree(mlp_export, partial)
    (partial / "selfcheck_expected_layer0.mem").unlink()
    code, out, err = _simulate(capsys, partial, "--simulator", "iverilog")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "selfcheck_expected_layer0.mem is missing" in err


def test_a_simulator_asked_for_and_not_installed_exits_2(mlp_export, capsys, monkeypatch):
    import dse.hardware.selfcheck as selfcheck

    monkeypatch.setattr(selfcheck, "verilator_available", lambda: False)
    code, out, err = _simulate(capsys, mlp_export, "--simulator", "verilator")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "verilator is not installed" in err


@pytest.mark.slow
def test_verilator_runs_the_same_testbench(mlp_export, capsys):
    """Verilator 5 (--binary --timing) builds and runs the testbench: the same agreement (about 15 s)."""
    require_tool("verilator")
    code, out, err = _simulate(capsys, mlp_export, "--simulator", "verilator")
    print(out)
    assert code == 0, err or out
    assert "verilator" in out and out.count("agree (100.00 %") == 3


@pytest.mark.yosys
@pytest.mark.slow
def test_synth_ys_runs_unchanged_and_calibrate_reads_its_report(tmp_path):
    """`yosys -s synth.ys` in the exported folder writes synth_stat.json, which
    cost_models/synthesis_reports.py parses and `dse calibrate` finds in export folders (about 10 s)."""
    require_tool("yosys")
    from cost_models.report import evaluate
    from cost_models.synthesis_reports import read_report
    from dse.cli.calibrate import load_points

    out = tmp_path / "small"
    _export(SMALL, out)
    done = subprocess.run(["yosys", "-q", "-s", "synth.ys"], cwd=out, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"yosys failed: {(done.stderr or done.stdout).strip()[-2000:]}"
    counts = read_report(out / "synth_stat.json")
    assert counts.source_format == "yosys-json" and counts.lut > 0 and counts.ff > 0
    estimate = evaluate(SMALL[0], "fpga-small")
    assert (counts.bram18, counts.dsp) == (estimate.bram18, estimate.dsp)
    (point,) = load_points(out)
    assert point.measured == counts and point.candidate == SMALL[0]


def test_dse_calibrate_reads_synthesized_export_folders(tmp_path, capsys):
    """Export folders holding export.json and synth_stat.json (here: the stored yosys grid's reports under
    the name synth.ys writes) calibrate like a manifest folder."""
    grid = yaml.safe_load(open("benchmarks/synthesis/reports/manifest.yaml"))["designs"]
    reports = tmp_path / "exports"
    for entry in grid:
        design = reports / entry["name"]
        design.mkdir(parents=True)
        (design / "export.json").write_text(json.dumps({"candidate": entry["candidate"], "files": []}))
        shutil.copy(f"benchmarks/synthesis/reports/{entry['report']}", design / "synth_stat.json")
    out = tmp_path / "cal.yaml"
    code = main(["calibrate", "--reports", str(reports), "--target", "fpga-small", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and out.is_file() and f"{len(grid)} designs" in text
    (reports / grid[0]["name"] / "synth_stat.json").unlink()
    code = main(["calibrate", "--reports", str(reports), "--target", "fpga-small", "--out", str(tmp_path / "b.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "without a synthesis report" in err and len(err.strip().splitlines()) == 1
