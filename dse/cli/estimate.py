"""`dse estimate`: the analytic cost of one candidate on one target, without training.

    dse estimate --config candidate.yaml --target NAME|FILE [--firing-rate R] [--activity FILE.saif] [--json]

The candidate file holds one Candidate in its to_dict() format (YAML or JSON; a mapping with a
`candidate:` key, such as a pareto.json front member, works too). Spikes are not measured here:
a uniform firing rate R (spikes per neuron per timestep, default 0.1) stands in for them, and
--firing-rate 0 gives the no-activity lower bound that screening uses. Prints a per-layer and
total table (rich) or report.to_dict() as JSON. --activity FILE (a SAIF from `dse simulate DIR --saif
FILE` of this candidate's export) adds the dynamic energy from the RTL's measured toggles beside the
spike-count one of the same samples (cost_models/switching.py; docs/cost-models.md#switching-activity). Bad input raises UserError with one line naming
the file and the field; the CLI turns it into exit code 2. On a calibrated target (`dse calibrate`'s
output) LUT and FF appear with the calibrated and the default constants side by side (JSON:
`default_constants`).

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from dse.errors import load_user_target
from dse.cli._common import load_candidate
from dse.results.cost_table import default_constant_resources, print_report

DEFAULT_FIRING_RATE = 0.1  # keep equal to cost_models.activity.DEFAULT_FIRING_RATE


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
    p.add_argument("--activity", metavar="FILE.saif", default=None,
                   help="SAIF written by `dse simulate DIR --saif FILE` for this candidate's Verilog export: also "
                   "give the dynamic energy from the RTL's measured toggles, beside the spike-count estimate of the "
                   "same samples (docs/cost-models.md#switching-activity); a file of another design is refused")
    p.add_argument("--spikingjelly", action="store_true",
                   help="also give SpikingJelly's estimate_simple_energy figures for the same network and "
                   "activity (compatibility mode, cost_models.compat; fp32 45 nm regime)")
    return p


# ---------------------------------------------------------------- candidate file


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
    switching = _switching(candidate, target, args.activity) if getattr(args, "activity", None) else None
    compat = None
    if getattr(args, "spikingjelly", False):
        from cost_models.compat import spikingjelly_simple_energy

        compat = spikingjelly_simple_energy(candidate, activity)
    if args.json:
        doc = report.to_dict()
        if compat is not None:
            doc["spikingjelly"] = compat.to_dict()
        if switching is not None:
            doc["switching_activity"] = switching.to_dict()
        default = default_constant_resources(candidate, target)  # a calibrated target: LUT/FF both ways
        if default is not None:
            doc["default_constants"] = default.to_dict()
        print(json.dumps(doc, indent=2))
        return 0
    print_report(candidate, target, report, rate, args.config, compat)
    if switching is not None:
        _print_switching(switching)
    return 0


def _switching(candidate: Any, target: Any, path: str) -> Any:
    """cost_models.switching's estimate from the SAIF; UserError (one line) for a file that is not a dse SAIF
    of this candidate."""
    from cost_models.switching import ActivityFileError, read_switching_activity, switching_estimate
    from dse.errors import UserError

    try:
        return switching_estimate(candidate, target, read_switching_activity(path))
    except ActivityFileError as exc:
        raise UserError(f"--activity {exc}") from None


def _print_switching(est: Any) -> None:
    """The switching-activity estimate: per layer and signal group, then both dynamic energies side by side."""
    print(f"\nenergy from switching activity ({est.source}: {est.inferences} inferences simulated in {est.simulator}, "
          f"{est.cycles_per_inference:.1f} cycles each with the input load; model: {est.model})")
    print(f"  {'layer':<8} {'group':<13} {'bits':>5} {'toggles/inf':>12} {'pJ/toggle':>10} {'nJ/inf':>9}")
    for g in est.groups:
        print(f"  {g.layer:<8} {g.group:<13} {g.bits:>5} {g.toggles_per_inference:>12.1f} {g.pj_per_toggle:>10.4f} "
              f"{g.energy_mj * 1e6:>9.3f}")
    print(f"  dynamic energy per inference, from switching activity: {est.dynamic_energy_mj * 1e6:.4g} nJ")
    if est.spike_count_dynamic_energy_mj is not None:
        print(f"  dynamic energy per inference, from spike counts of the same samples: "
              f"{est.spike_count_dynamic_energy_mj * 1e6:.4g} nJ (switching / spike counts = {est.ratio:.3f})")
    if est.static_energy_mj is not None:
        print(f"  static energy (static power x the model's latency), the same in both: {est.static_energy_mj * 1e6:.4g} nJ")
    print(f"  not priced: {est.unpriced_toggles_per_inference:.1f} toggles per inference (nets inside the units, "
          "memory arrays, nets repeating a priced one)")
