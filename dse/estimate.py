"""`dse estimate`: the analytic cost of one candidate on one target, without training.

    dse estimate --config candidate.yaml --target NAME|FILE [--firing-rate R] [--json]

The candidate file holds one Candidate in its to_dict() format (YAML or JSON; a mapping with a
`candidate:` key, such as a pareto.json front member, works too). Spikes are not measured here:
a uniform firing rate R (spikes per neuron per timestep, default 0.1) stands in for them, and
--firing-rate 0 gives the no-activity lower bound that screening uses. Prints a per-layer and
total table (rich) or report.to_dict() as JSON. Bad input raises UserError with one line naming
the file and the field; the CLI turns it into exit code 2.

Wiring (dse/cli.py): `estimate.add_parser(sub)` in build_parser(), and
`if args.command == "estimate": return estimate.run(args)` in main().
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from dse.errors import UserError, load_user_target

DEFAULT_FIRING_RATE = 0.1  # keep equal to cost_models.activity.DEFAULT_FIRING_RATE
FULL_PRECISION_LABELS = ("fp", "fp32", "full")
_REQUIRED = ("family", "widths", "weight_bits", "membrane_bits", "timesteps")


def _rate(text: str) -> float:
    """argparse type of --firing-rate: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"firing rate must be a number in [0, 1], got {text!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"firing rate must be in [0, 1] spikes per neuron per timestep, got {text}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `estimate` subcommand on an argparse subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "estimate",
        help="analytic cost of one candidate on a target (no training): per-layer table or JSON",
        description="Cost one candidate (a Candidate.to_dict YAML/JSON file) on a hardware target with the "
        "analytic cost models: memory, ACs/MACs, energy, LUT/FF/BRAM18/DSP and their share of the device, "
        "latency and pipelined throughput. Spike activity is assumed: a uniform firing rate per neuron and "
        "timestep (--firing-rate 0 gives the lower bound used to screen candidates).",
    )
    p.add_argument("--config", required=True, metavar="CANDIDATE.yaml",
                   help="candidate file: the fields of Candidate.to_dict() (family, widths, weight_bits, "
                   "membrane_bits, timesteps, ...) as YAML or JSON; see studies/examples/mlp-64-128-10.yaml")
    p.add_argument("--target", required=True, metavar="NAME|FILE",
                   help="hardware target: a shipped name (see `dse targets`: fpga-tiny, fpga-small, fpga-medium, "
                   "fpga-large, asic-45nm) or the path of a target YAML")
    p.add_argument("--firing-rate", type=_rate, default=DEFAULT_FIRING_RATE, metavar="R",
                   help=f"assumed spikes per neuron per timestep, 0..1 (default {DEFAULT_FIRING_RATE}); every "
                   "spike-input layer then sees R x its input neurons (after pooling) x T events; 0 = the "
                   "no-activity lower bound")
    p.add_argument("--json", action="store_true",
                   help="print the cost report as JSON (CostReport.to_dict()) instead of a table")
    p.add_argument("--spikingjelly", action="store_true",
                   help="also give SpikingJelly's estimate_simple_energy figures for the same network and "
                   "activity (compatibility mode, cost_models.compat; fp32 45 nm regime)")
    return p


# ---------------------------------------------------------------- candidate file


def load_candidate(path: str | Path) -> Any:
    """Read and validate a candidate file; UserError with one line naming file and field."""
    from search_spaces.candidate import Candidate

    path = Path(path)
    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read candidate file {where}: {exc.strerror or exc}") from None
    import yaml

    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"candidate file {where} is not valid YAML{at}") from None
    if isinstance(data, dict) and isinstance(data.get("candidate"), dict):
        data = data["candidate"]  # a pareto.json front member / trial record
    if not isinstance(data, dict):
        raise UserError(f"{where}: must be a mapping of candidate fields (the Candidate.to_dict() format)")
    fields = _validate(data, where)
    try:
        return Candidate.from_dict(fields)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: {str(exc).splitlines()[0]}") from None


def _fail(where: str, field: str, problem: str) -> UserError:
    return UserError(f"{where}: field '{field}': {problem}")


def _int(value: Any, where: str, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, field, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise _fail(where, field, f"must be >= {minimum}, got {value}")
    return value


def _number(value: Any, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _fail(where, field, f"must be a positive number, got {value!r}")
    return float(value)


def _list(value: Any, where: str, field: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _fail(where, field, f"must be a list, got {value!r}")
    return list(value)


def _bits(value: Any, where: str, field: str) -> int | None:
    if value is None or (isinstance(value, str) and value.lower() in FULL_PRECISION_LABELS):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
        raise _fail(where, field, f"{value!r} is not a bit width; accepted: 1..32, or null / 'fp' for full precision")
    return value


def _validate(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Field-by-field checks (types, ranges, lengths, the quantizer's accepted bits and options)."""
    from search_spaces.candidate import FAMILIES, INPUT_KINDS, POOLING_KINDS, Candidate
    from search_spaces.quantizer_types import PROFILES

    known = tuple(Candidate.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise _fail(where, str(key), f"unknown field; accepted: {', '.join(known)}")
    for key in _REQUIRED:
        if key not in data:
            raise _fail(where, key, "missing field")
    out: dict[str, Any] = {}
    family = data["family"]
    if family not in FAMILIES:
        raise _fail(where, "family", f"unknown family {family!r}; accepted: {', '.join(FAMILIES)}")
    out["family"] = family
    widths = _list(data["widths"], where, "widths")
    if not widths:
        raise _fail(where, "widths", "needs at least one hidden layer width")
    out["widths"] = [_int(w, where, f"widths[{i}]") for i, w in enumerate(widths)]
    n_hidden, n_weight = len(widths), len(widths) + 1
    wbits = _list(data["weight_bits"], where, "weight_bits")
    if len(wbits) != n_weight:
        raise _fail(where, "weight_bits", f"needs {n_weight} entries (one per weight layer: hidden layers, then the readout), got {len(wbits)}")
    out["weight_bits"] = [_bits(b, where, f"weight_bits[{i}]") for i, b in enumerate(wbits)]
    mbits = _list(data["membrane_bits"], where, "membrane_bits")
    if len(mbits) != n_hidden:
        raise _fail(where, "membrane_bits", f"needs {n_hidden} entries (one per spiking layer), got {len(mbits)}")
    out["membrane_bits"] = [_bits(b, where, f"membrane_bits[{i}]") for i, b in enumerate(mbits)]
    out["timesteps"] = _int(data["timesteps"], where, "timesteps")

    quantizer = data.get("quantizer", "uniform")
    if quantizer not in PROFILES:
        raise _fail(where, "quantizer", f"unknown quantizer {quantizer!r}; accepted: {', '.join(PROFILES)}")
    out["quantizer"] = quantizer
    profile = PROFILES[quantizer]
    options = data.get("quantizer_options") or {}
    if not isinstance(options, dict):
        raise _fail(where, "quantizer_options", f"must be a mapping, got {options!r}")
    try:
        profile.check_options(options)
    except ValueError as exc:
        raise _fail(where, "quantizer_options", str(exc)) from None
    out["quantizer_options"] = dict(options)
    for i, b in enumerate(out["weight_bits"]):
        allowed = profile.layer_weight_bits(i, n_weight)
        if b not in allowed:
            shown = ", ".join("fp" if a is None else str(a) for a in allowed)
            raise _fail(where, f"weight_bits[{i}]", f"quantizer {quantizer!r} cannot take {'fp' if b is None else b} bits here; accepted: {shown}")
    for i, b in enumerate(out["membrane_bits"]):
        if not profile.membrane_bits:
            if b is not None:
                raise _fail(where, f"membrane_bits[{i}]", f"quantizer {quantizer!r} keeps no membrane: give null")
            continue
        try:
            profile.check_membrane_bits(b)
        except ValueError as exc:
            raise _fail(where, f"membrane_bits[{i}]", str(exc)) from None

    if "input_shape" in data:
        shape = _list(data["input_shape"], where, "input_shape")
        if len(shape) != 3:
            raise _fail(where, "input_shape", f"must be [channels, height, width], got {shape}")
        out["input_shape"] = [_int(s, where, f"input_shape[{i}]") for i, s in enumerate(shape)]
    if "num_classes" in data:
        out["num_classes"] = _int(data["num_classes"], where, "num_classes")
    if "input_kind" in data:
        if data["input_kind"] not in INPUT_KINDS:
            raise _fail(where, "input_kind", f"unknown input kind {data['input_kind']!r}; accepted: {', '.join(INPUT_KINDS)}")
        out["input_kind"] = data["input_kind"]
    if "kernel_size" in data:
        out["kernel_size"] = _int(data["kernel_size"], where, "kernel_size")
    for key in ("tau", "v_threshold"):
        if key in data:
            out[key] = _number(data[key], where, key)
    if "parallelism" in data and data["parallelism"] is not None:
        par = _list(data["parallelism"], where, "parallelism")
        if len(par) != n_weight:
            raise _fail(where, "parallelism", f"needs {n_weight} entries (one per weight layer), got {len(par)}")
        out["parallelism"] = [_int(p, where, f"parallelism[{i}]") for i, p in enumerate(par)]
    pooling = data.get("pooling") or []
    pooling = _list(pooling, where, "pooling")
    if family == "conv":
        if len(pooling) != n_hidden:
            raise _fail(where, "pooling", f"needs {n_hidden} entries (one per conv block: {', '.join(POOLING_KINDS)}), got {len(pooling)}")
        for i, pool in enumerate(pooling):
            if pool not in POOLING_KINDS:
                raise _fail(where, f"pooling[{i}]", f"unknown pooling {pool!r}; accepted: {', '.join(POOLING_KINDS)}")
        _check_conv_sizes(out, pooling, where)
    elif pooling:
        raise _fail(where, "pooling", "applies to the conv family only")
    out["pooling"] = pooling
    return out


def _check_conv_sizes(fields: dict[str, Any], pooling: list[str], where: str) -> None:
    """Refuse a conv stack whose feature map vanishes (pooling past 1x1, kernel wider than the map)."""
    _, h, w = fields.get("input_shape", (1, 8, 8))
    k = fields.get("kernel_size", 3)
    for i, pool in enumerate(pooling):
        h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1
        if h < 1 or w < 1:
            raise _fail(where, "kernel_size", f"{k} leaves no output in conv block {i}")
        if pool != "none":
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise _fail(where, f"pooling[{i}]", "pools a 1-pixel feature map to nothing; use 'none'")


# ---------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    """Execute `dse estimate`; returns the exit code (0). Raises UserError on bad input."""
    from cost_models.activity import activity_from_rate
    from cost_models.report import evaluate

    candidate = load_candidate(args.config)
    target = load_user_target(args.target)
    rate = float(args.firing_rate)
    activity = activity_from_rate(candidate, rate) if rate > 0 else None
    report = evaluate(candidate, target, activity)
    compat = None
    if getattr(args, "spikingjelly", False):
        from cost_models.compat import spikingjelly_simple_energy

        compat = spikingjelly_simple_energy(candidate, activity)
    if args.json:
        doc = report.to_dict()
        if compat is not None:
            doc["spikingjelly"] = compat.to_dict()
        print(json.dumps(doc, indent=2))
        return 0
    print_report(candidate, target, report, rate, args.config, compat)
    return 0


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        console.width = 200
    return console


def _si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 1.23 mJ, 456 uJ, 12.3 us."""
    if value == 0:
        return f"0 {unit}"
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _count(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _bytes(n: float) -> str:
    for suffix, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {suffix}"
    return f"{n:.4g} B"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def layer_table(candidate: Any, report: Any) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the per-layer cost table (one row per weight layer, then the total).

    Shared by `dse estimate` and the HTML report so both show the same figures the same way.
    """
    from cost_models.network import layer_specs

    fpga = report.target_kind == "fpga"
    specs = {s.name: s for s in layer_specs(candidate)}
    columns = ["layer", "shape", "W", "M/acc", "P", "memory", "events in", "ACs", "MACs", "energy", "cycles"]
    if fpga:
        columns += ["LUT", "FF", "BRAM18", "DSP", "LUT %", "FF %", "BRAM %", "DSP %"]
    rows = []
    for layer in report.layers:
        spec = specs[layer.name]
        mem = (layer.weight_memory_bits + layer.membrane_memory_bits + layer.scale_memory_bits) / 8
        row = [
            layer.name + ("" if spec.spiking else " (readout)"),
            f"{_shape(spec.in_shape)} -> {_shape(spec.out_shape)}" + (f", {spec.pool_after} pool" if spec.pool_after else ""),
            "fp" if layer.weight_bits is None else str(layer.weight_bits),
            "-" if (spec.spiking and not spec.has_membrane_state) else ("fp" if layer.membrane_bits is None else str(layer.membrane_bits)),
            str(layer.parallelism), _bytes(mem), _count(layer.input_events) if spec.input_is_spike else "dense",
            _count(layer.acs), _count(layer.macs), _si(layer.energy_mj * 1e-3, "J"), _count(layer.latency_cycles),
        ]
        if fpga:
            row += [_count(layer.lut), _count(layer.ff), _count(layer.bram18), _count(layer.dsp),
                    _pct(layer.lut_util_pct), _pct(layer.ff_util_pct), _pct(layer.bram_util_pct), _pct(layer.dsp_util_pct)]
        rows.append(row)
    total = ["total", "", "", "", "", _bytes(report.memory_bytes), "", _count(report.acs), _count(report.macs),
             _si(report.energy_mj * 1e-3, "J"), _count(report.latency_cycles)]
    if fpga:
        total += [_count(report.lut), _count(report.ff), _count(report.bram18), _count(report.dsp),
                  _pct(report.lut_util_pct), _pct(report.ff_util_pct), _pct(report.bram_util_pct), _pct(report.dsp_util_pct)]
    rows.append(total)
    return columns, rows


def print_report(
    candidate: Any, target: Any, report: Any, rate: float, source: str, compat: Any = None, activity: str | None = None,
) -> None:
    """Per-layer + total table, then latency, throughput, energy split and device utilisation.

    `activity` says where the spikes came from (default: the assumed rate of `dse estimate`).
    """
    from rich.table import Table

    console = _console()
    fpga = report.target_kind == "fpga"
    if activity is None:
        activity = "lower bound: no spikes (--firing-rate 0)" if report.lower_bound else f"assumed firing rate {rate:g} spikes/neuron/timestep"
    table = Table(title=f"{candidate.summary()} on {target.name} ({activity})")
    columns, rows = layer_table(candidate, report)
    for col in columns:
        table.add_column(col, justify="left" if col in ("layer", "shape") else "right")
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_row(*rows[-1], end_section=True)
    console.print(table)
    bound = ">= " if report.lower_bound else ""
    console.print(f"candidate {source}; target {target.name} ({target.kind}, {target.clock_hz / 1e6:g} MHz): {target.description}")
    console.print(
        f"latency {bound}{_si(report.latency_s, 's')} ({report.latency_cycles:,} cycles, layers one after another); "
        f"throughput {bound.replace('>=', '<=')}{report.throughput_inferences_per_s:,.0f} inferences/s "
        f"(layer pipeline: one inference per {report.pipeline_interval_cycles:,} cycles of {report.bottleneck_layer})"
    )
    console.print(
        f"energy {bound}{_si(report.energy_mj * 1e-3, 'J')} per inference: compute {_si(report.compute_energy_mj * 1e-3, 'J')}, "
        f"memory {_si(report.memory_energy_mj * 1e-3, 'J')}, static {_si(report.static_energy_mj * 1e-3, 'J')}; "
        f"memory {_bytes(report.memory_bytes)}; SOPs {bound}{report.sops:,.0f}"
    )
    if fpga:
        caps = target.capacities
        parts = [f"{name} {used:,}/{caps[key]:,} ({pct:.1f} %)" for name, used, key, pct in (
            ("LUT", report.lut, "lut", report.lut_util_pct), ("FF", report.ff, "ff", report.ff_util_pct),
            ("BRAM18", report.bram18, "bram18", report.bram_util_pct), ("DSP", report.dsp, "dsp", report.dsp_util_pct))]
        over = [p.split(" ")[0] for p, pct in zip(parts, report.utilisation().values()) if pct > 100]
        verdict = "fits" if not over else f"DOES NOT FIT ({', '.join(over)} over capacity)"
        console.print(f"device {target.name}: {'; '.join(parts)}: {verdict}")
    if compat is not None:
        console.print(
            f"SpikingJelly estimate_simple_energy equivalent (fp32, 45 nm regime): {_si(compat.energy_mj * 1e-3, 'J')} "
            f"(MAC {compat.mac:,.0f}, AC {compat.ac:,.0f}, SynOps {compat.synop:,.0f}, {compat.memory_access_bytes:,.0f} B)"
        )
