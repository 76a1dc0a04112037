"""What every `dse` command shares: the one-line-error parser, exit codes, the console, the study
arguments, and the front table printed by `search` and `pareto`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dse.errors import UserError

EXIT_FAILED = 1  # dse search: no completed trial, or the run stopped on failed trials in a row
EXIT_USAGE = 2  # bad input: one line on stderr, nothing written
EXIT_INTERRUPTED = 130  # Ctrl-C


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, where to look) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """--storage URL and --study NAME of an existing study (pareto, plot, report)."""
    p.add_argument("--storage", required=True, metavar="URL", help="Optuna storage URL, e.g. sqlite:///dse-out/digits-dvs34-fpga-small/study.db")
    p.add_argument("--study", required=True, metavar="NAME", help="study name in that storage")


def load_candidate(path: str | Path) -> Any:
    """The Candidate of a candidate file (search_spaces.candidate_file, the one reader); UserError
    (one line naming file and field) when it is not one."""
    from search_spaces.candidate_file import CandidateFileError, read_candidate_file

    try:
        return read_candidate_file(path)
    except CandidateFileError as exc:
        raise UserError(str(exc)) from None


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """--device: where torch trains."""
    p.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda, cuda:N")


def make_console(stderr: bool = False) -> Any:
    """A rich console; wide when writing to a file or pipe so tables are not squeezed."""
    from rich.console import Console

    console = Console(highlight=False, markup=False, stderr=stderr)
    if not console.is_terminal:
        console.width = 220
    return console


def print_front(console: Any, study: Any) -> None:
    from rich.table import Table

    from dse.results.front import TABLE_COLUMNS, format_row, pareto_front, trial_row

    front = pareto_front(study)
    table = Table(title=f"Pareto front of {study.study_name!r}: {len(front)} feasible trials of {len(study.trials)}")
    for column in TABLE_COLUMNS:
        table.add_column(column, justify="right" if column not in ("quantizer", "architecture") else "left")
    for trial in front:
        table.add_row(*format_row(trial_row(trial)))
    console.print(table)
