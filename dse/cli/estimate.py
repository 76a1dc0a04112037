"""`dse estimate`: the analytic cost of one candidate on one target, without training.

    dse estimate --config candidate.yaml --target NAME|FILE [--firing-rate R] [--json]

The candidate file holds one Candidate in its to_dict() format (YAML or JSON; a mapping with a
`candidate:` key, such as a pareto.json front member, works too). Spikes are not measured here:
a uniform firing rate R (spikes per neuron per timestep, default 0.1) stands in for them, and
--firing-rate 0 gives the no-activity lower bound that screening uses. Prints a per-layer and
total table (rich) or report.to_dict() as JSON. Bad input raises UserError with one line naming
the file and the field; the CLI turns it into exit code 2.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from dse.errors import load_user_target
from dse.cli._common import load_candidate
from dse.results.cost_table import print_report

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
