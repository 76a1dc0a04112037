"""`yaml`: the Candidate as YAML in its to_dict() format, loadable by `dse estimate --config` and `dse train --config`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dse.files import write_text

FILE_NAME = "candidate.yaml"


def candidate_yaml(candidate: Any, header: str = "") -> str:
    """YAML text of a Candidate (full precision is null), with optional comment lines first."""
    comments = "".join(f"# {line}\n" for line in header.splitlines() if line)
    return comments + yaml.safe_dump(candidate.to_dict(), sort_keys=False, default_flow_style=None)


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry: OUT/candidate.yaml."""
    header = f"Exported from {ctx.source}.\n`dse estimate --config THIS --target fpga-small` or `dse train --config THIS`"
    return [write_text(out_dir / FILE_NAME, candidate_yaml(ctx.candidate, header))]
