"""`dse pareto`: print the Pareto front of a stored study (table or pareto.json's content)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dse.cli._common import add_study_arguments, make_console, print_front


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the `pareto` subcommand; returns its parser."""
    p = sub.add_parser("pareto", help="print the Pareto front of a stored study",
                       description="Print the feasible Pareto front of a study in an Optuna storage.")
    add_study_arguments(p)
    p.add_argument("--json", action="store_true", help="print pareto.json's content instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    from dse.results.front import front_document
    from dse.search.storage import open_existing_study

    study = open_existing_study(args.storage, args.study)
    if args.json:
        print(json.dumps(front_document(study, args.storage), indent=2))
    else:
        print_front(make_console(), study)
    return 0
