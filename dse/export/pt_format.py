"""`pt`: the PyTorch state dict with its Candidate and data set (the checkpoint of dse/artifacts.py).

Load it with dse.training.artifacts.read_checkpoint + load_model, or export from it again with
`dse export --from-checkpoint OUT/model.pt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dse.training.artifacts import write_checkpoint

FILE_NAME = "model.pt"


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry: OUT/model.pt."""
    return [write_checkpoint(out_dir / FILE_NAME, ctx.model, ctx.dataset, ctx.checkpoint_source, ctx.in_step)]
