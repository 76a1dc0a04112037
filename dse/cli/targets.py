"""`dse targets`: list the shipped hardware targets with their capacities, clock and static power."""

from __future__ import annotations

import argparse
from typing import Any

from dse.cli._common import make_console


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the `targets` subcommand; returns its parser."""
    return sub.add_parser(
        "targets", help="list the hardware targets and their capacities",
        description="List the shipped hardware targets with device capacities, clock and static power.",
    )


def run(args: argparse.Namespace) -> int:
    """Print the table of shipped targets; returns 0."""
    from rich.table import Table

    from cost_models.targets import list_targets, load_target

    table = Table(title="Hardware targets (cost_models/targets/*.yaml)")
    for column in ("target", "kind", "device", "LUT", "FF", "BRAM18", "DSP", "clock MHz", "static W"):
        table.add_column(column)
    for name in list_targets():
        t = load_target(name)
        caps = t.capacities or {}
        table.add_row(
            name, t.kind, t.description, *(str(caps.get(k, "-")) for k in ("lut", "ff", "bram18", "dsp")),
            f"{t.clock_hz / 1e6:g}" if t.clock_hz else "-", f"{t.static_power_w:g}" if t.static_power_w else "-",
        )
    make_console().print(table)
    return 0
