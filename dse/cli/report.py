"""`dse report`: one self-contained HTML report of a stored study.

    dse report --storage URL --study NAME --out DIR [--image-format png|svg] [--force]

Writes DIR/report.html: settings, target and capacities, budgets, objectives, trial counts,
the front table, every plot of `dse plot` inlined, each front member's per-layer cost
table and its NeuroBench figures (stored by dse search, else measured on the test split when the
extra `neurobench` is installed; docs/cost-models.md#neurobench). An unknown storage or study,
or an existing report without --force, ends in one line (exit 2) before anything is written; the
file is written to a temporary name, then renamed.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dse.errors import UserError
from dse.cli._common import add_study_arguments
from dse.files import refuse_existing_files

REPORT_NAME = "report.html"
IMAGE_FORMATS = ("png", "svg")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report", help="one self-contained HTML report of a stored study",
        description="Write OUT/report.html: settings, target, budgets, the front table, the plots and the "
                    "per-layer cost breakdown of every front member, in one file with nothing external.",
    )
    add_study_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for report.html (created if missing)")
    p.add_argument("--image-format", default="png", metavar="FMT",
                   help="how plots are inlined: png (base64) or svg (inline markup); default png")
    p.add_argument("--force", action="store_true", help="overwrite an existing DIR/report.html")
    return p


def run(args: argparse.Namespace) -> int:
    """Execute `dse report`; returns 0. Raises UserError on bad input, before writing anything."""
    from dse.results.plots import study_view
    from dse.results.html_report import report_html
    from dse.files import write_text

    image_format = str(args.image_format).strip().lower()
    if image_format not in IMAGE_FORMATS:
        raise UserError(f"--image-format {args.image_format!r}: accepted: {', '.join(IMAGE_FORMATS)}")
    out_dir = Path(args.out)
    from dse.search.storage import open_existing_study

    study = open_existing_study(args.storage, args.study)
    refuse_existing_files(out_dir, [REPORT_NAME], args.force)
    view = study_view(study)
    html = report_html(study, view, args.storage, image_format, neurobench_records(study, view, args.storage))
    path = out_dir / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, html)
    print(f"wrote {path} ({len(html.encode('utf-8')) / 1024:.0f} KiB)")
    return 0


def neurobench_records(study: Any, view: Any, storage_url: str) -> dict[int, Any]:
    """The front members' NeuroBench records: stored ones, and (with the extra installed) the missing ones measured
    on the study's test split without storing them; a data set that cannot be loaded is the members' reason."""
    from dse.results.neurobench_metrics import front_records, neurobench_version, stored_records, trial_model_loader

    records: dict[int, Any] = dict(stored_records(study, (t.number for t in view.front)))
    todo = [t for t in view.front if t.number not in records]
    if not todo or neurobench_version() is None:
        return records
    from dse.training.data import load_dataset

    settings = study.user_attrs.get("dse", {})
    try:
        data = load_dataset(settings["dataset"], seed=int(settings.get("seed", 0)))
    except (UserError, KeyError) as exc:
        return {**records, **{t.number: f"its data set does not load here ({exc})" for t in todo}}
    return {**records, **front_records(study, todo, data, trial_model_loader(study, storage_url), store=False)}
