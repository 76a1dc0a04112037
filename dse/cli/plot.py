"""`dse plot`: Pareto plots, hypervolume history and the front's bit widths of a stored study.

    dse plot --storage URL --study NAME --out DIR [--formats png,svg] [--force]

Writes DIR/pareto-accuracy-<cost>.<fmt> (the study's costs, then energy, memory, LUT, BRAM18
when the target produces them), pareto-3-objectives, hypervolume and bit-widths, and, when
plotly is installed, pareto-interactive.html (Optuna's plot_pareto_front). An unknown storage or
study, an unknown format, or an existing output file without --force ends in one line (exit 2)
before anything is written.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dse.errors import UserError
from dse.cli._common import add_study_arguments
from dse.files import refuse_existing_files



def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot", help="Pareto plots of a stored study (PNG/SVG; HTML with plotly)",
        description="Plot accuracy against every cost of a stored study, a 3-objective view, the hypervolume "
                    "history and the per-layer bit widths of the feasible front.",
    )
    add_study_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the plot files (created if missing)")
    p.add_argument("--formats", default="png,svg", metavar="LIST", help="comma-separated image formats: png, svg (default png,svg)")
    p.add_argument("--force", action="store_true", help="overwrite plot files that already exist in DIR")
    return p


def parse_formats(text: str) -> tuple[str, ...]:
    """'png,svg' -> ('png', 'svg'); UserError naming the accepted formats otherwise."""
    from dse.results.plots import FORMATS

    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise UserError(f"--formats {text!r}: accepted: a comma-separated list of {', '.join(FORMATS)}")
    return formats


def run(args: argparse.Namespace) -> int:
    """Execute `dse plot`; returns 0. Raises UserError on bad input, before writing anything."""
    from dse.results.plots import output_names, plotly_available, study_view, write_plots

    formats = parse_formats(args.formats)
    out_dir = Path(args.out)
    from dse.search.storage import open_existing_study

    study = open_existing_study(args.storage, args.study)
    view = study_view(study)
    refuse_existing_files(out_dir, output_names(view, formats, plotly_available()), args.force)
    written = write_plots(study, view, out_dir, formats)
    print(f"wrote {len(written)} files to {out_dir}: {', '.join(p.name for p in written)}")
    if not plotly_available():
        print("pareto-interactive.html skipped: plotly is not installed (pip install 'snn-dse[plots]')")
    return 0
