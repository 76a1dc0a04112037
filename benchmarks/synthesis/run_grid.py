"""Synthesize a grid of designs of the project's FPGA template with yosys and store what it counts.

    python benchmarks/synthesis/run_grid.py [--large] [--only NAME ...] [--family F ...] [--force]

Four families (grid.csv `family`):
- mlp: random integer MLPs on static input (dse/hardware/synthetic.py, seeded), P from 1 to 32;
- conv: conv networks (3x3, padding 1, 2x2 pooling, then a fully connected readout) on static input;
- events: MLPs and conv networks reading binary event frames from the valid/ready stream;
- per-type: one static MLP per quantizer type (uniform, twn, ttq, sigmoid, tawq, qsnn, mfp).
conv, events and per-type designs are the project's own SpikingNet (dse/training/model.py, seeded,
untrained, hidden weights scaled so the layers fire) in integer form (dse/export/integer_network.py,
scale bits auto). Every design is exported with the `verilog` format (dse/export/verilog.py) and
synthesized with `synth_xilinx -family xc7 -flatten` (no place and route), reading the sources
verilog_params.json lists (top last). Writes, in this folder:
- grid.csv: per design its family and parameters, the yosys counts (LUT, FF, BRAM18, DSP, CARRY4,
  LUTRAM LUTs), synthesis seconds, a digest of the synthesized files, and the cost model's estimate
  with the default constants;
- reports/<name>.json (yosys stat -json) and reports/manifest.yaml (for `dse calibrate`: each design's
  grid_family and candidate; yosys_family xc7);
- versions.json: yosys, iverilog, Python and machine.
A design whose report exists and whose exported files have the digest recorded in grid.csv is not
synthesized again (--force does); a changed template makes every design it touches stale. Large
designs (784 inputs) only with --large. Exits 1 when yosys's BRAM18 or DSP differs from the estimate.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
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
from dse.export import verilog as verilog_format  # noqa: E402
from dse.hardware.synthetic import random_integer_network  # noqa: E402
from dse.hardware.verilog_template import TOP_MODULE  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
GRID_CSV = HERE / "grid.csv"
VERSIONS = HERE / "versions.json"
TIMESTEPS = 4
YOSYS_FAMILY = "xc7"  # the manifest's yosys_family: dse calibrate refuses it for a target of another family
ESTIMATE_TARGET = "fpga-small"
FAMILIES = ("mlp", "conv", "events", "per-type")
# {sources}: verilog_params.json's "sources" (snn_layer.v [snn_conv.v] snn_top.v)
YOSYS_SCRIPT = "read_verilog -defer {sources}; " \
               f"hierarchy -top {TOP_MODULE}; synth_xilinx -family {YOSYS_FAMILY} -flatten -top {TOP_MODULE}; " \
               "tee -q -o stat.json stat -json"
STATIC_IN_STEP, EVENT_IN_STEP = 0.25, 1.0  # digits-like static codes 0..16 stand for 0..4; events are 0/1


def yosys_script(design_dir: Path) -> str:
    """The synthesis script for an exported design: its sources from verilog_params.json."""
    params = json.loads((Path(design_dir) / "verilog_params.json").read_text())
    return YOSYS_SCRIPT.format(sources=" ".join(params["sources"]))


def _dotted(values: tuple) -> str:
    return ".".join("fp" if v is None else str(v) for v in values)


@dataclass(frozen=True)
class GridPoint:
    """A random integer MLP (family mlp): layer sizes, per-layer weight bits, membrane bits and P."""

    sizes: tuple[int, ...]
    weight_bits: tuple[int, ...]
    membrane_bits: tuple[int, ...]
    parallelism: tuple[int, ...]
    seed: int = 0
    family: str = "mlp"

    @property
    def name(self) -> str:
        size = "-".join(map(str, self.sizes))
        return f"mlp-{size}-w{_dotted(self.weight_bits)}-m{_dotted(self.membrane_bits)}-p{_dotted(self.parallelism)}"

    def candidate(self) -> Candidate:
        return Candidate(
            family="mlp", widths=self.sizes[1:-1], weight_bits=self.weight_bits, membrane_bits=self.membrane_bits,
            timesteps=TIMESTEPS, quantizer="uniform", parallelism=self.parallelism,
            input_shape=(1, 1, self.sizes[0]), num_classes=self.sizes[-1],
        )

    def integer_net(self):
        return random_integer_network(self.sizes, self.weight_bits, self.membrane_bits, self.parallelism,
                                      timesteps=TIMESTEPS, seed=self.seed)


@dataclass(frozen=True)
class ModelPoint:
    """A design built the way a user's is: the seeded SpikingNet of `cand` (hidden weights x gains),
    in integer form. `label` names it in the grid (the quantizer type for per-type designs)."""

    family: str
    label: str
    cand: Candidate
    gains: tuple[float, ...]
    seed: int = 0

    @property
    def name(self) -> str:
        c = self.cand
        shape = "x".join(map(str, c.input_shape))
        layers = "-".join(f"c{w}{(c.pooling[i] if i < len(c.pooling) else 'none')[:3]}" if c.family == "conv"
                          else str(w) for i, w in enumerate(c.widths))
        return (f"{self.family}-{self.label}-{shape}-{layers}-{c.num_classes}-w{_dotted(c.weight_bits)}"
                f"-m{_dotted(c.membrane_bits)}-p{_dotted(c.parallelism)}")

    def candidate(self) -> Candidate:
        return self.cand

    def integer_net(self):
        import torch

        from dse.export.integer_network import integer_network
        from dse.training.model import build_model

        torch.manual_seed(self.seed)
        model = build_model(self.cand)
        with torch.no_grad():
            for layer, gain in zip(model.weight_layers[:-1], self.gains):
                layer.weight.mul_(gain)
        step = EVENT_IN_STEP if self.cand.input_kind == "events" else STATIC_IN_STEP
        return integer_network(model, step, "auto")


def _mlp(label: str, widths, wbits, mbits, par, quantizer: str = "uniform", options=None, gains=(3.0, 3.0),
         family: str = "per-type", shape=(1, 8, 8), kind: str = "static") -> ModelPoint:
    return ModelPoint(family, label, Candidate(
        "mlp", widths, wbits, mbits, TIMESTEPS, quantizer=quantizer, quantizer_options=options or {},
        parallelism=par, input_shape=shape, num_classes=10, input_kind=kind), gains)


def _conv(label: str, widths, wbits, mbits, par, pooling, shape=(1, 8, 8), kind: str = "static",
          gains=(6.0, 32.0), family: str = "conv") -> ModelPoint:
    return ModelPoint(family, label, Candidate(
        "conv", widths, wbits, mbits, TIMESTEPS, pooling=pooling, parallelism=par, input_shape=shape,
        num_classes=10, input_kind=kind), gains)


MLP_GRID = (
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
HIGH_P_MLP_GRID = (  # P of 16 and 32: the parallel end the default constants fitted worst
    GridPoint((64, 32, 10), (4, 4), (8,), (32, 10)),
    GridPoint((128, 64, 10), (2, 2), (6,), (32, 10)),
    GridPoint((256, 64, 10), (4, 4), (8,), (16, 10)),
    GridPoint((64, 64, 32, 10), (4, 4, 4), (8, 8), (16, 16, 8)),
)
PER_TYPE_GRID = (  # one static 64 -> 32 -> 10 MLP per quantizer type (Q-SNN: binary hidden layer between 8-bit edges)
    _mlp("uniform", (32,), (4, 4), (8,), (4, 2)),
    _mlp("twn", (32,), (2, 2), (6,), (4, 2), "ternary"),
    _mlp("ttq", (32,), (2, 2), (6,), (4, 2), "ternary", {"algorithm": "ttq"}),
    _mlp("sigmoid", (32,), (2, 4), (8,), (4, 2), "sigmoid"),
    _mlp("tawq", (32,), (2, 2), (6,), (4, 2), "tawq"),
    _mlp("qsnn", (32, 16), (8, 1, 8), (6, 5), (4, 4, 2), "qsnn"),
    _mlp("mfp", (32,), (4, 4), (None,), (4, 2), "mfp"),
)
CONV_GRID = (
    _conv("uniform", (8,), (4, 4), (8,), (4, 2), ("max",)),
    _conv("uniform", (4, 8), (4, 4, 4), (8, 8), (2, 4, 2), ("max", "max")),
    _conv("uniform", (8,), (2, 8), (6,), (8, 2), ("avg",)),
    _conv("uniform", (16,), (4, 4), (8,), (4, 2), ("max",), shape=(1, 16, 16)),
)
EVENTS_GRID = (
    _mlp("uniform", (32,), (4, 4), (8,), (4, 2), family="events", shape=(2, 8, 8), kind="events", gains=(8.0,)),
    _mlp("uniform", (64,), (2, 4), (6,), (8, 2), family="events", shape=(2, 8, 8), kind="events", gains=(8.0,)),
    _mlp("uniform", (64,), (4, 4), (8,), (4, 2), family="events", shape=(2, 16, 16), kind="events", gains=(8.0,)),
    _conv("uniform", (8,), (4, 4), (8,), (4, 2), ("max",), shape=(2, 8, 8), kind="events", gains=(12.0,),
          family="events"),
    _conv("uniform", (8, 16), (4, 4, 4), (8, 8), (4, 4, 2), ("max", "max"), shape=(2, 16, 16), kind="events",
          gains=(12.0, 60.0), family="events"),
)
# the order they run in: the families the first grid lacked first
DEFAULT_GRID = PER_TYPE_GRID + CONV_GRID + EVENTS_GRID + HIGH_P_MLP_GRID + MLP_GRID
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

    import torch

    return {
        "yosys": first_line(["yosys", "-V"]),
        "iverilog": first_line(["iverilog", "-V"]),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while the grid ran)",
        "synthesis": YOSYS_SCRIPT.format(sources="<verilog_params.json sources>"),
    }


def design_digest(folder: Path) -> str:
    """sha256 (first 16 hex digits) of what yosys reads: the Verilog sources and the design's .mem images."""
    params = json.loads((folder / "verilog_params.json").read_text())
    names = sorted(set(params["sources"]) | {p.name for p in folder.glob("*.mem") if not p.name.startswith("selfcheck_")})
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def export(point, folder: Path) -> str:
    """Write the point's Verilog design into folder; its digest."""
    verilog_format.write(SimpleNamespace(integer_net=point.integer_net()), folder)  # sources + verilog_params.json
    return design_digest(folder)


def synthesize(folder: Path) -> tuple[str, float]:
    """yosys on an exported design: the stat JSON text and the seconds yosys took."""
    start = time.perf_counter()
    done = subprocess.run(["yosys", "-q", "-p", yosys_script(folder)], cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"yosys failed in {folder}: {done.stderr.strip()[-500:]}")
    return (folder / "stat.json").read_text(), seconds


def estimate_row(point) -> dict[str, int]:
    r = evaluate(point.candidate(), ESTIMATE_TARGET)
    return {"est_lut": r.lut, "est_ff": r.ff, "est_bram18": r.bram18, "est_dsp": r.dsp}


def describe(point) -> dict[str, object]:
    """grid.csv's parameter columns of a point."""
    c = point.candidate()
    sizes = (c.input_shape[-1] if c.family == "mlp" and c.input_shape[:2] == (1, 1) else "x".join(map(str, c.input_shape)),
             *c.widths, c.num_classes)
    return {
        "name": point.name, "family": point.family, "quantizer": getattr(point, "label", "uniform"),
        "layers": c.family, "input_kind": c.input_kind, "sizes": "-".join(map(str, sizes)),
        "weight_bits": _dotted(c.weight_bits), "membrane_bits": _dotted(c.membrane_bits),
        "parallelism": _dotted(c.parallelism), "timesteps": c.timesteps,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="also the 784-input designs (minutes and GBs each)")
    ap.add_argument("--force", action="store_true", help="synthesize again points already in reports/")
    ap.add_argument("--only", nargs="*", default=None, help="names of grid points to run")
    ap.add_argument("--family", nargs="*", default=None, choices=FAMILIES, help="families to run")
    ap.add_argument("--list", action="store_true", help="print the grid's names and families, synthesize nothing")
    args = ap.parse_args(argv)
    grid = DEFAULT_GRID + (LARGE_GRID if args.large else ())
    if args.only:
        grid = tuple(p for p in grid if p.name in set(args.only))
    if args.family:
        grid = tuple(p for p in grid if p.family in set(args.family))
    if args.list:
        for p in grid:
            print(f"{p.family:9s} {p.name}")
        return 0
    REPORTS.mkdir(parents=True, exist_ok=True)
    old_rows = {}
    if GRID_CSV.is_file():
        with GRID_CSV.open() as f:
            old_rows = {row["name"]: row for row in csv.DictReader(f)}
    manifest_path = REPORTS / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())["designs"] if manifest_path.is_file() else []
    entries = {e["name"]: e for e in manifest}
    rows = dict(old_rows)
    mismatches = []
    for point in grid:
        report = REPORTS / f"{point.name}.json"
        with tempfile.TemporaryDirectory() as tmp:
            digest = export(point, Path(tmp))
            old = old_rows.get(point.name, {})
            if report.is_file() and not args.force and old.get("design_sha") == digest:
                print(f"{point.name}: kept ({old['synth_s']} s)", flush=True)
                rows[point.name] = {**old, **describe(point), **estimate_row(point)}
            else:
                text, seconds = synthesize(Path(tmp))
                report.write_text(text)
                counts = parse_yosys_stat(text, str(report))
                rows[point.name] = {
                    **describe(point),
                    "lut": counts.lut, "ff": counts.ff, "bram18": counts.bram18, "dsp": counts.dsp,
                    "carry4": counts.carry4, "lutram_luts": counts.lutram_luts, "synth_s": round(seconds, 1),
                    "design_sha": digest, **estimate_row(point),
                }
                print(f"{point.name}: {counts.lut} LUT, {counts.ff} FF, {counts.bram18} BRAM18, {counts.dsp} DSP, "
                      f"{counts.carry4} CARRY4 in {seconds:.0f} s", flush=True)
        entries[point.name] = {"name": point.name, "grid_family": point.family, "report": report.name,
                               "format": "yosys-json", "candidate": point.candidate().to_dict()}
        row = rows[point.name]
        if (int(row["bram18"]), int(row["dsp"])) != (int(row["est_bram18"]), int(row["est_dsp"])):
            mismatches.append(f"{point.name}: yosys {row['bram18']} BRAM18 {row['dsp']} DSP, "
                              f"estimate {row['est_bram18']} BRAM18 {row['est_dsp']} DSP")
        _write(rows, entries, manifest_path)
    _write(rows, entries, manifest_path)
    VERSIONS.write_text(json.dumps(tool_versions(), indent=2) + "\n")
    for line in mismatches:
        print(f"MISMATCH {line}", file=sys.stderr)
    return 1 if mismatches else 0


FIELDS = ["name", "family", "quantizer", "layers", "input_kind", "sizes", "weight_bits", "membrane_bits",
          "parallelism", "timesteps", "lut", "ff", "bram18", "dsp", "carry4", "lutram_luts", "synth_s",
          "design_sha", "est_lut", "est_ff", "est_bram18", "est_dsp"]


def _write(rows: dict, entries: dict, manifest_path: Path) -> None:
    order = {p.name: i for i, p in enumerate(MLP_GRID + HIGH_P_MLP_GRID + CONV_GRID + EVENTS_GRID + PER_TYPE_GRID
                                             + LARGE_GRID)}
    names = sorted(rows, key=lambda n: order.get(n, len(order)))
    with GRID_CSV.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for name in names:
            w.writerow({k: rows[name].get(k, "") for k in FIELDS})
    designs = [entries[n] for n in names if n in entries]
    manifest_path.write_text(yaml.safe_dump({"yosys_family": YOSYS_FAMILY, "designs": designs}, sort_keys=False, width=200))


if __name__ == "__main__":
    raise SystemExit(main())
