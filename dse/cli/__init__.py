"""The `dse` command: one registry of subcommands, each a module of dse/cli/ with add_parser and run.

Commands are thin: they parse and validate, then call the library (dse.search, dse.results,
dse.training, dse.export). Every user error ends in one line on stderr and exit code 2, before
anything is written. Nothing outside dse/cli/ imports this package.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from dse.cli import calibrate, datasets, estimate, export, pareto, plot, report, search, simulate, targets, train
from dse.cli._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CliParser
from dse.errors import UserError

# the registry: name -> module with add_parser(subparsers) and run(args) -> exit code, in --help order
COMMANDS = {
    "search": search, "pareto": pareto, "estimate": estimate, "train": train, "export": export, "plot": plot,
    "report": report, "calibrate": calibrate, "simulate": simulate, "targets": targets, "datasets": datasets,
}


def build_parser() -> argparse.ArgumentParser:
    """The `dse` parser with every registered subcommand."""
    parser = CliParser(
        prog="dse",
        description="Hardware-aware design-space exploration of quantized spiking neural networks: "
        "search per-layer weight bits, membrane bits, timesteps, quantizer type and architecture "
        "for the Pareto front of accuracy against energy, memory and FPGA resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `dse` command; returns its exit code (a UserError becomes one line and exit 2)."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except UserError as exc:
        print(f"dse {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]
