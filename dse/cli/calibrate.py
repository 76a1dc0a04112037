"""`dse calibrate`: fit the FPGA template's LUT/FF constants to synthesis reports, write a target file.

    dse calibrate --reports DIR --target NAME|FILE --out calibrated.yaml

DIR holds the reports (yosys `stat -json` files, Vivado report_utilization text) and a
`manifest.yaml` pairing each report with the design's Candidate (the template's parameters):

    yosys_family: xc7                           # optional (or part: xc7z020clg400-1), here or per design
    designs:
      - name: mlp-64-32-10-w4-m8-p4.2
        report: mlp-64-32-10-w4-m8-p4.2.json    # path relative to DIR
        format: yosys-json                      # optional: yosys-json | vivado-utilization (else detected)
        grid_family: mlp                        # optional: mlp | per-type | conv | events (by-family tests)
        candidate: {family: mlp, widths: [32], weight_bits: [4, 4], membrane_bits: [8], timesteps: 4,
                    parallelism: [4, 2], input_shape: [1, 1, 64], num_classes: 10}

Without a manifest.yaml, DIR may be one `dse export --format verilog` folder or a folder of them,
each synthesized with its own script: the candidate comes from its export.json and the counts from
vivado_utilization.rpt (`vivado -mode batch -source vivado.tcl`) when present, else synth_stat.json
(`yosys -s synth.ys`); a manifest may also name those files (report: DESIGN/synth_stat.json).

The output is the base target's file with an `fpga_template` section (the fitted constants, each
with its source) and a `calibration` record (errors before, after and held out, residuals per
design); `--target calibrated.yaml` then uses it everywhere. Bad input: one line, exit 2, no file; so are
reports of another FPGA part than the target's (a Vivado report's Device row, or the part / yosys family
the manifest or the export's selfcheck.json names).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from cost_models.calibrate import MANIFEST
from dse.errors import UserError, load_user_target



def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `calibrate` subcommand; returns its parser."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit the FPGA template's LUT/FF constants to synthesis reports and write a target file",
        description="Fit the constants of the FPGA layer template (per-layer control LUTs and FFs, LUTs per "
        "datapath, constant-compare, LUT-multiplier and counter bit and per ROM LUT, FFs per register and counter "
        "bit; LUTRAM LUTs are counted, not fitted) to synthesized designs (yosys stat -json or Vivado "
        f"report_utilization text, listed in DIR/{MANIFEST} with their candidates) by least squares within each "
        "constant's physical lower bound, and write the base target with the fitted constants and the fit's "
        "residuals. Reports of another FPGA part than the target's are refused.",
    )
    p.add_argument("--reports", required=True, metavar="DIR",
                   help=f"folder with the reports and {MANIFEST} (see benchmarks/synthesis/reports/), or without "
                   "a manifest: Verilog export folders (or one) synthesized with their synth.ys / vivado.tcl")
    p.add_argument("--target", required=True, metavar="NAME|FILE",
                   help="FPGA target to start from: a shipped name (fpga-small, ...) or a target YAML")
    p.add_argument("--out", required=True, metavar="FILE.yaml", help="calibrated target file to write (must not exist unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    return p


def load_points(folder: str | Path) -> list[Any]:
    """The DesignPoints of a report folder (cost_models.calibrate.read_design_points), or, without a
    manifest, of export folders (export_points); UserError on any bad entry."""
    from cost_models.calibrate import CalibrationError, read_design_points

    path = Path(folder)
    if path.is_dir() and not (path / MANIFEST).is_file():
        points = export_points(path)
        if points is not None:
            return points
    try:
        return read_design_points(folder)
    except CalibrationError as exc:
        raise UserError(str(exc)) from None


def export_points(folder: Path) -> list[Any] | None:
    """DesignPoints of `dse export --format verilog` folders after synthesis: `folder` itself or its
    subfolders holding an export.json (the candidate) and the report its script wrote:
    vivado_utilization.rpt (vivado.tcl) when present, else synth_stat.json (yosys -s synth.ys).
    None when there is no export folder there."""
    from cost_models.calibrate import DesignPoint
    from cost_models.synthesis_reports import ReportError, read_report
    from dse.hardware.selfcheck import VIVADO_UTILIZATION, YOSYS_STAT
    from search_spaces.candidate import Candidate

    exports = [folder] if (folder / "export.json").is_file() else \
        sorted(p for p in folder.iterdir() if p.is_dir() and (p / "export.json").is_file())
    if not exports:
        return None
    points = []
    for design in exports:
        scripts = _selfcheck_record(design)
        report = next((design / name for name in (VIVADO_UTILIZATION, YOSYS_STAT) if (design / name).is_file()), None)
        if report is None:
            raise UserError(f"{design}: an export without a synthesis report ({VIVADO_UTILIZATION} or {YOSYS_STAT}); "
                            "run `yosys -s synth.ys` (or `vivado -mode batch -source vivado.tcl`) in it first")
        try:
            candidate = Candidate.from_dict(dict(json.loads((design / "export.json").read_text())["candidate"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{design / 'export.json'}: no readable candidate ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
        try:
            measured = read_report(report)
        except ReportError as exc:
            raise UserError(str(exc)) from None
        yosys = measured.source_format == "yosys-json"
        part = measured.device or (None if yosys else scripts.get("part"))
        points.append(DesignPoint(design.name, candidate, measured, part=part,
                                  yosys_family=scripts.get("yosys_family") if yosys else None))
    return points


def _selfcheck_record(design: Path) -> dict:
    """The export's selfcheck.json (part and yosys family its synth.ys / vivado.tcl were written for), or {}."""
    from dse.hardware.selfcheck import MANIFEST_FILE

    try:
        data = json.loads((design / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_parts(points: list[Any], target_arg: str, target_name: str) -> None:
    """UserError (one line) when a report was synthesized for another FPGA part, or another yosys
    synth_xilinx family, than the target's (dse.hardware.selfcheck.fpga_part): constants fitted to
    one device's primitives do not carry over to another's. Reports that name neither pass."""
    from cost_models.synthesis_reports import same_part
    from dse.hardware.selfcheck import fpga_part

    part, family, part_source = fpga_part(target_arg)
    for p in points:
        if p.part and not same_part(p.part, part):
            raise UserError(f"{p.name}: the report is for part {p.part}, target {target_name} is part {part} "
                            f"({part_source}); calibrate with reports of the target's part, or give the target "
                            "file that part (`part:`)")
        if p.yosys_family and p.yosys_family != family:
            raise UserError(f"{p.name}: synthesized with synth_xilinx -family {p.yosys_family}, target {target_name} "
                            f"is part {part} (family {family}, {part_source}); synthesize for -family {family}")


def calibrated_target_yaml(base_path: str, calibration: Any, source: str) -> str:
    """The base target file's content plus the fitted fpga_template and the calibration record."""
    data = yaml.safe_load(Path(base_path).read_text())
    data["name"] = f"{data['name']}-calibrated"
    data["description"] = f"{data['description']}; template constants fitted to {source}"
    from cost_models.template_constants import CONSTANT_BOUNDS

    data["fpga_template"] = {
        name: {"value": round(float(getattr(calibration.constants, name)), 6),
               "source": (f"counted, not fitted: {CONSTANT_BOUNDS[name].reason}" if CONSTANT_BOUNDS[name].fixed else
                          f"fitted by dse calibrate to {len(calibration.names)} designs in {source}, at least "
                          f"{CONSTANT_BOUNDS[name].lower:.4g} ({CONSTANT_BOUNDS[name].reason})")}
        for fit in calibration.fits.values() for name in fit.terms
    }
    data["calibration"] = calibration.record(source)
    return yaml.safe_dump(data, sort_keys=False, width=120)


def run(args: argparse.Namespace) -> int:
    """Execute `dse calibrate`; returns 0. Raises UserError on bad input (nothing is written then)."""
    from cost_models.calibrate import CalibrationError, calibrate
    from dse.files import atomic_file

    target = load_user_target(args.target)
    if target.kind != "fpga":
        raise UserError(f"--target {args.target} is a {target.kind} target; calibration fits FPGA targets")
    out = Path(args.out)
    if out.suffix not in (".yaml", ".yml"):
        raise UserError(f"--out {out}: a target file must end in .yaml or .yml")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    if out.exists() and not args.force:
        raise UserError(f"--out {out} already exists; choose another --out or give --force to replace it")
    if out.exists() and not out.is_file():
        raise UserError(f"--out {out} exists and is not a file")
    points = load_points(args.reports)
    check_parts(points, args.target, target.name)
    try:
        cal = calibrate(points, target.template)
    except CalibrationError as exc:
        raise UserError(str(exc)) from None
    text = calibrated_target_yaml(target.path, cal, str(args.reports))
    try:
        with atomic_file(out, "w") as handle:  # renamed into place only once it loads as a target
            handle.write(text)
            handle.flush()
            load_user_target(handle.name)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror})") from None
    for q, fit in cal.fits.items():
        print(f"{q}: mean |error| {fit.before_mean_abs_rel_error:.1%} with {target.name}'s constants, "
              f"{fit.fit_mean_abs_rel_error:.1%} fitted, {fit.heldout_mean_abs_rel_error:.1%} held out "
              f"(leave-one-out, {len(cal.names)} designs)")
    print(f"wrote {out}")
    return 0
