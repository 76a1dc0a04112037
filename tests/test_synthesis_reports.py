"""Parsing yosys stat JSON and Vivado utilization reports; calibration and `dse calibrate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from cost_models.calibrate import MIN_POINTS, DesignPoint, calibrate
from cost_models.report import evaluate
from cost_models.synthesis_reports import ReportError, SynthesisCounts, parse_vivado_utilization, read_report
from cost_models.targets import load_target
from dse.errors import UserError
from dse.cli import calibrate as calibrate_command
from search_spaces.candidate import Candidate

FIXTURES = Path(__file__).with_name("fixtures")
YOSYS = FIXTURES / "yosys_stat_mlp-64-32-10.json"
VIVADO = FIXTURES / "vivado_utilization_synth.rpt"


def test_yosys_stat_counts_by_hand():
    # cells of the fixture (yosys 0.23, synth_xilinx of the 64-32-10 template design):
    # LUT2 369 + LUT3 116 + LUT4 33 + LUT5 49 + LUT6 184 + INV 102 = 853 logic LUTs;
    # RAM32M 11 x 4 + RAM64M 3 x 4 = 56 LUTRAM LUTs; FDRE 534 + FDSE 14 = 548 FFs
    c = read_report(YOSYS)
    assert (c.lut, c.lutram_luts, c.ff) == (853 + 56, 56, 548)
    assert (c.bram18, c.dsp, c.carry4) == (1, 8, 164)
    assert c.source_format == "yosys-json"


def test_vivado_utilization_counts():
    c = read_report(VIVADO)
    # Block RAM Tile 1.5 (RAMB36 units) = 3 BRAM18; CARRY4 from the Primitives table
    assert (c.lut, c.ff, c.bram18, c.dsp, c.carry4, c.lutram_luts) == (812, 536, 3, 6, 152, 56)
    assert c.source_format == "vivado-utilization"


def test_report_errors_are_one_line(tmp_path):
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\n")
    with pytest.raises(ReportError, match="unknown report format; accepted: yosys-json, vivado-utilization"):
        read_report(unknown)
    no_lut = tmp_path / "nolut.rpt"
    no_lut.write_text("\n".join(l for l in VIVADO.read_text().splitlines() if "Slice LUTs" not in l))
    with pytest.raises(ReportError, match="without a LUT"):
        parse_vivado_utilization(no_lut.read_text(), str(no_lut))
    with pytest.raises(ReportError, match="without a LUT"):
        read_report(no_lut, "vivado-utilization")
    data = json.loads(YOSYS.read_text())
    for module in data["modules"].values():
        module["num_cells_by_type"] = {k: v for k, v in module["num_cells_by_type"].items() if not k.startswith("FD")}
    data.get("design", {}).get("num_cells_by_type", {}).clear()
    data.pop("design", None)
    no_ff = tmp_path / "noff.json"
    no_ff.write_text(json.dumps(data))
    with pytest.raises(ReportError, match="no FF cells"):
        read_report(no_ff)


def _synthetic_points(n: int) -> list[DesignPoint]:
    """Designs whose 'measured' counts follow known constants exactly (the fit must recover them)."""
    from cost_models.calibrate import features

    truth_lut = (120.0, 0.6, 0.21, 0.9, 1.0, 0.7, 0.3)  # LUT_TERMS within their bounds (compare: the default)
    truth_ff = (40.0, 1.2, 1.5)
    points = []
    shapes = [(64, 32, 10), (256, 64, 10), (32, 16, 10), (64, 64, 10), (128, 32, 10), (16, 8, 4), (48, 24, 6)]
    for i in range(n):
        sizes = shapes[i % len(shapes)]
        c = Candidate(family="mlp", widths=sizes[1:-1], weight_bits=(2 + i % 6, 4), membrane_bits=(6 + i,),
                      timesteps=4, parallelism=(1 + i % 4, 1 + i % 2), input_shape=(1, 1, sizes[0]),
                      num_classes=sizes[-1])
        lut_f, ff_f, _, _ = features(c, 128)
        lut = int(round(sum(a * b for a, b in zip(truth_lut, lut_f))))
        ff = int(round(sum(a * b for a, b in zip(truth_ff, ff_f))))
        points.append(DesignPoint(f"d{i}", c, SynthesisCounts(lut, ff, 0, 0, 0, 0, "yosys-json")))
    return points


def test_calibration_recovers_known_constants_and_beats_the_defaults_held_out():
    cal = calibrate(_synthetic_points(8))
    lut, ff = cal.fits["lut"], cal.fits["ff"]
    assert cal.constants.control_luts == pytest.approx(120.0, rel=0.02)
    assert cal.constants.ff_per_unit_bit == pytest.approx(1.2, rel=0.02)
    assert lut.heldout_mean_abs_rel_error < 0.01 < lut.before_mean_abs_rel_error
    assert ff.heldout_mean_abs_rel_error < 0.01 < ff.before_mean_abs_rel_error


def _manifest_dir(tmp_path: Path, points: list[DesignPoint]) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    designs = []
    for p in points:
        cells = {"LUT6": p.measured.lut, "FDRE": p.measured.ff, "RAMB36E1": 1, "DSP48E1": 3}
        (folder / f"{p.name}.json").write_text(json.dumps({"design": {"num_cells_by_type": cells}}))
        designs.append({"name": p.name, "report": f"{p.name}.json", "candidate": p.candidate.to_dict()})
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"designs": designs}))
    return folder


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    calibrate_command.add_parser(sub)
    return parser.parse_args(["calibrate", *argv])


def test_dse_calibrate_writes_a_target_that_loads_and_changes_the_estimate(tmp_path, capsys):
    folder = _manifest_dir(tmp_path, _synthetic_points(8))
    out = tmp_path / "calibrated.yaml"
    assert calibrate_command.run(_args("--reports", str(folder), "--target", "fpga-small", "--out", str(out))) == 0
    target = load_target(str(out))
    assert target.name == "fpga-small-calibrated" and target.capacities["lut"] == 53200
    assert target.template.control_luts == pytest.approx(120.0, rel=0.02)
    record = target.calibration
    assert record["points"] == 8 and len(record["residuals"]) == 8
    assert record["lut"]["mean_abs_rel_error_heldout"] < record["lut"]["mean_abs_rel_error_default_constants"]
    c = _synthetic_points(1)[0]
    assert evaluate(c.candidate, target).lut == pytest.approx(c.measured.lut, abs=3)
    assert evaluate(c.candidate, "fpga-small").lut != evaluate(c.candidate, target).lut
    assert "held out" in capsys.readouterr().out


@pytest.mark.parametrize("problem,match", [
    ("too_few", f"the fit of 6 LUT constants needs at least {MIN_POINTS}"),
    ("unknown_format", "unknown report format"),
    ("no_manifest", "no manifest.yaml"),
    ("asic", "asic target; calibration fits FPGA targets"),
])
def test_dse_calibrate_bad_input_is_one_line_and_writes_nothing(tmp_path, problem, match):
    points = _synthetic_points(3 if problem == "too_few" else 8)
    folder = _manifest_dir(tmp_path, points)
    target = "asic-45nm" if problem == "asic" else "fpga-small"
    if problem == "unknown_format":
        (folder / "d0.json").write_text("not a report\n")
    if problem == "no_manifest":
        (folder / "manifest.yaml").unlink()
    out = tmp_path / "calibrated.yaml"
    with pytest.raises(UserError, match=match) as err:
        calibrate_command.run(_args("--reports", str(folder), "--target", target, "--out", str(out)))
    assert "\n" not in str(err.value)
    assert not out.exists() and list(tmp_path.glob(".calibrated*")) == []


GRID_REPORTS = Path(__file__).resolve().parents[1] / "benchmarks" / "synthesis" / "reports"


@pytest.mark.skipif(not (GRID_REPORTS / "manifest.yaml").is_file(), reason="no stored synthesis grid")
def test_calibration_on_the_stored_yosys_grid_lowers_the_held_out_error():
    points = calibrate_command.load_points(GRID_REPORTS)
    cal = calibrate(points)
    lut, ff = cal.fits["lut"], cal.fits["ff"]
    assert lut.heldout_mean_abs_rel_error < lut.before_mean_abs_rel_error
    # the default FF constants are the physical bounds (one FF per kept register bit) and the fit stays there
    assert ff.heldout_mean_abs_rel_error <= ff.before_mean_abs_rel_error + 1e-9
    # BRAM18 and DSP are set by the template (memory styles, multipliers), not fitted: they match yosys
    assert cal.template_dsp == cal.measured_dsp


def test_dse_calibrate_keeps_an_existing_file_unless_forced(tmp_path):
    """Issue 11: calibrate overwrote any --out, and removed it when the result did not load."""
    folder = _manifest_dir(tmp_path, _synthetic_points(8))
    out = tmp_path / "calibrated.yaml"
    out.write_text("my own notes\n")
    with pytest.raises(UserError, match="already exists.*--force"):
        calibrate_command.run(_args("--reports", str(folder), "--target", "fpga-small", "--out", str(out)))
    assert out.read_text() == "my own notes\n"
    assert calibrate_command.run(_args("--reports", str(folder), "--target", "fpga-small", "--out", str(out), "--force")) == 0
    assert load_target(str(out)).name == "fpga-small-calibrated"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
