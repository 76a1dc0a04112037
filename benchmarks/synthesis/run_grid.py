"""Synthesize a grid of designs of the project's FPGA template with yosys and store what it counts.

    python benchmarks/synthesis/run_grid.py [--large] [--only NAME ...] [--jobs 1]

Every grid point is a random integer MLP (dse/hardware/synthetic.py, seeded) exported with the
`verilog` export format (dse/export/verilog.py: the template of dse/hardware/verilog_template.py
plus verilog_params.json) and synthesized with `synth_xilinx -family xc7 -flatten` (no place and
route), reading the Verilog sources verilog_params.json lists (`sources`, top last). Writes, in
this folder:
- grid.csv: per design its parameters, the yosys counts (LUT, FF, BRAM18, DSP, CARRY4, LUTRAM
  LUTs), synthesis seconds, and the cost model's estimate with the default constants;
- reports/<name>.json (yosys stat -json) and reports/manifest.yaml (for `dse calibrate`);
- versions.json: yosys, iverilog, Python and machine.
Points already in reports/ are reused unless --force. Large designs (784 inputs) only with --large.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from cost_models.report import evaluate  # noqa: E402
from cost_models.synthesis_reports import parse_yosys_stat  # noqa: E402
from dse.hardware.synthetic import random_integer_network  # noqa: E402
from dse.export import verilog as verilog_format  # noqa: E402
from dse.hardware.verilog_template import TOP_MODULE  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
GRID_CSV = HERE / "grid.csv"
VERSIONS = HERE / "versions.json"
TIMESTEPS = 4
# {sources}: verilog_params.json's "sources" (snn_layer.v [snn_conv.v] snn_top.v)
YOSYS_SCRIPT = "read_verilog -defer {sources}; " \
               f"hierarchy -top {TOP_MODULE}; synth_xilinx -family xc7 -flatten -top {TOP_MODULE}; " \
               "tee -q -o stat.json stat -json"


def yosys_script(design_dir: Path) -> str:
    """The synthesis script for an exported design: its sources from verilog_params.json."""
    params = json.loads((Path(design_dir) / "verilog_params.json").read_text())
    return YOSYS_SCRIPT.format(sources=" ".join(params["sources"]))


@dataclass(frozen=True)
class GridPoint:
    """One design of the grid: layer sizes, per-layer weight bits, membrane bits and P."""

    sizes: tuple[int, ...]
    weight_bits: tuple[int, ...]
    membrane_bits: tuple[int, ...]
    parallelism: tuple[int, ...]
    seed: int = 0

    @property
    def name(self) -> str:
        size = "-".join(map(str, self.sizes))
        w = ".".join(map(str, self.weight_bits))
        m = ".".join(map(str, self.membrane_bits))
        p = ".".join(map(str, self.parallelism))
        return f"mlp-{size}-w{w}-m{m}-p{p}"

    def candidate(self) -> Candidate:
        return Candidate(
            family="mlp", widths=self.sizes[1:-1], weight_bits=self.weight_bits, membrane_bits=self.membrane_bits,
            timesteps=TIMESTEPS, quantizer="uniform", parallelism=self.parallelism,
            input_shape=(1, 1, self.sizes[0]), num_classes=self.sizes[-1],
        )


DEFAULT_GRID = (
    GridPoint((64, 32, 10), (2, 2), (6,), (2, 2)),
    GridPoint((64, 32, 10), (4, 4), (8,), (4, 2)),
    GridPoint((64, 32, 10), (8, 8), (12,), (8, 2)),
    GridPoint((64, 32, 10), (4, 4), (16,), (1, 1)),
    GridPoint((64, 32, 10), (6, 3), (10,), (16, 5)),
    GridPoint((64, 32, 10), (3, 5), (7,), (2, 1)),
    GridPoint((32, 16, 10), (4, 4), (8,), (4, 2)),
    GridPoint((32, 16, 10), (8, 6), (14,), (2, 2)),
    GridPoint((256, 64, 10), (4, 4), (8,), (4, 2)),
    GridPoint((256, 64, 10), (2, 4), (6,), (8, 2)),
    GridPoint((256, 64, 10), (8, 8), (16,), (2, 1)),
    GridPoint((64, 64, 32, 10), (4, 4, 4), (8, 8), (4, 4, 2)),
)
LARGE_GRID = (
    GridPoint((784, 128, 10), (4, 4), (8,), (16, 1)),
    GridPoint((784, 64, 10), (8, 8), (12,), (8, 2)),
)


def tool_versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not found"

    return {
        "yosys": first_line(["yosys", "-V"]),
        "iverilog": first_line(["iverilog", "-V"]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while the grid ran)",
        "synthesis": YOSYS_SCRIPT.format(sources="<verilog_params.json sources>"),
    }


def synthesize(point: GridPoint) -> tuple[str, float]:
    """Export the point's design, run yosys on it; the stat JSON text and the seconds yosys took."""
    net = random_integer_network(point.sizes, point.weight_bits, point.membrane_bits, point.parallelism,
                                 timesteps=TIMESTEPS, seed=point.seed)
    with tempfile.TemporaryDirectory() as tmp:
        verilog_format.write(SimpleNamespace(integer_net=net), Path(tmp))  # sources + verilog_params.json
        script = yosys_script(Path(tmp))
        start = time.perf_counter()
        done = subprocess.run(["yosys", "-q", "-p", script], cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"yosys failed on {point.name}: {done.stderr.strip()[-500:]}")
        return (Path(tmp) / "stat.json").read_text(), seconds


def estimate_row(point: GridPoint) -> dict[str, int]:
    r = evaluate(point.candidate(), "fpga-small")
    return {"est_lut": r.lut, "est_ff": r.ff, "est_bram18": r.bram18, "est_dsp": r.dsp}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="also the 784-input designs (minutes and GBs each)")
    ap.add_argument("--force", action="store_true", help="synthesize again points already in reports/")
    ap.add_argument("--only", nargs="*", default=None, help="names of grid points to run")
    args = ap.parse_args(argv)
    grid = DEFAULT_GRID + (LARGE_GRID if args.large else ())
    if args.only:
        grid = tuple(p for p in grid if p.name in set(args.only))
    REPORTS.mkdir(parents=True, exist_ok=True)
    old_rows = {}
    if GRID_CSV.is_file():
        with GRID_CSV.open() as f:
            old_rows = {row["name"]: row for row in csv.DictReader(f)}
    manifest_path = REPORTS / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())["designs"] if manifest_path.is_file() else []
    entries = {e["name"]: e for e in manifest}
    rows = dict(old_rows)
    for point in grid:
        report = REPORTS / f"{point.name}.json"
        if report.is_file() and not args.force and point.name in old_rows:
            print(f"{point.name}: kept ({old_rows[point.name]['synth_s']} s)")
            rows[point.name] = {**old_rows[point.name], **estimate_row(point)}
            continue
        text, seconds = synthesize(point)
        report.write_text(text)
        counts = parse_yosys_stat(text, str(report))
        rows[point.name] = {
            "name": point.name, "sizes": "-".join(map(str, point.sizes)),
            "weight_bits": ".".join(map(str, point.weight_bits)),
            "membrane_bits": ".".join(map(str, point.membrane_bits)),
            "parallelism": ".".join(map(str, point.parallelism)), "timesteps": TIMESTEPS,
            "lut": counts.lut, "ff": counts.ff, "bram18": counts.bram18, "dsp": counts.dsp,
            "carry4": counts.carry4, "lutram_luts": counts.lutram_luts, "synth_s": round(seconds, 1),
            **estimate_row(point),
        }
        entries[point.name] = {"name": point.name, "report": report.name, "format": "yosys-json",
                               "candidate": point.candidate().to_dict()}
        print(f"{point.name}: {counts.lut} LUT, {counts.ff} FF, {counts.bram18} BRAM18, {counts.dsp} DSP, "
              f"{counts.carry4} CARRY4 in {seconds:.0f} s", flush=True)
        _write(rows, entries, manifest_path)
    _write(rows, entries, manifest_path)
    VERSIONS.write_text(json.dumps(tool_versions(), indent=2) + "\n")
    return 0


def _write(rows: dict, entries: dict, manifest_path: Path) -> None:
    fields = ["name", "sizes", "weight_bits", "membrane_bits", "parallelism", "timesteps", "lut", "ff", "bram18",
              "dsp", "carry4", "lutram_luts", "synth_s", "est_lut", "est_ff", "est_bram18", "est_dsp"]
    with GRID_CSV.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for row in rows.values():
            w.writerow({k: row.get(k, "") for k in fields})
    manifest_path.write_text(yaml.safe_dump({"designs": list(entries.values())}, sort_keys=False, width=200))


if __name__ == "__main__":
    raise SystemExit(main())
