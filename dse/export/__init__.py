"""Export of one trained configuration: a registry of formats, one module each, written all-or-nothing.

| format | files                                              | module         |
|--------|----------------------------------------------------|----------------|
| yaml   | candidate.yaml (the Candidate)                      | yaml_format.py |
| npz    | network.npz (IntegerNetwork: codes, scales, M, ...) | npz_format.py  |
| nir    | network.nir + network.nir.json (sidecar)            | nir_format.py  |
| mem    | layerI_weights.mem / .coe + mem_manifest.json       | mem_format.py  |
| pt     | model.pt (state dict + candidate, a checkpoint)     | pt_format.py   |
| verilog | snn_layer.v, snn_top.v, verilog_*.mem, verilog_params.json | verilog.py |

export_to(ctx, formats, out, force) writes every format into a temporary folder beside `out` and
renames it into place only when all succeeded, so a refused format leaves nothing behind.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dse.errors import UserError
from dse.files import check_writable_folder

# name -> module with write(ctx, out_dir) -> list[Path]; all but yaml need the trained weights
CANDIDATE_ONLY_FORMATS = ("yaml",)
FORMATS: dict[str, str] = {
    "yaml": "dse.export.yaml_format",
    "npz": "dse.export.npz_format",
    "nir": "dse.export.nir_format",
    "mem": "dse.export.mem_format",
    "pt": "dse.export.pt_format",
    "verilog": "dse.export.verilog",
}
MANIFEST_NAME = "export.json"


@dataclass
class ExportContext:
    """The trained model and what the formats need besides it."""

    model: Any  # the trained SpikingNet; None when only the candidate is known (yaml only)
    dataset: str | None
    source: str  # human description, e.g. "study 'x' trial 3 in sqlite:///..."
    scale_bits: int | str = "auto"
    input_step: float | None = None  # overrides the data set's recorded step
    checkpoint_source: dict[str, Any] = field(default_factory=dict)
    candidate: Any = None  # defaults to model.candidate

    def __post_init__(self) -> None:
        if self.candidate is None:
            self.candidate = self.model.candidate

    @cached_property
    def in_step(self) -> float | None:
        if self.input_step is not None:
            return self.input_step
        from dse.export.integer_network import input_step_of

        if self.dataset is None:
            return None
        try:
            return input_step_of(self.dataset)
        except UserError:
            return None

    @cached_property
    def integer_net(self) -> Any:
        """The IntegerNetwork (built once); UserError when the model has no exact integer form."""
        from dse.export.integer_network import input_step_of, integer_network

        if self.in_step is None and self.dataset is not None:
            input_step_of(self.dataset)  # raises: no step recorded for this data set
        if self.in_step is None:
            raise UserError("the data set of this model is not recorded, so its input step is unknown; "
                            "integer formats (npz, mem) need it")
        return integer_network(self.model, self.in_step, self.scale_bits)


def parse_formats(text: str) -> list[str]:
    """`--format yaml,npz,...` -> ordered unique names; UserError listing the accepted ones."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UserError(f"--format needs one or more of: {', '.join(FORMATS)}")
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise UserError(f"unknown format {unknown[0]!r}; accepted: {', '.join(FORMATS)} (comma-separated)")
    return list(dict.fromkeys(names))


def check_output(out: str | Path, force: bool) -> Path:
    """Refuse an existing --out unless forced, and one whose parent cannot be written."""
    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"output {out} already exists; choose another --out or give --force to replace it")
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    check_writable_folder(out.absolute().parent)
    return out


def export_to(
    ctx: ExportContext, formats: list[str], out: str | Path, force: bool = False,
    skipped: dict[str, str] | None = None,
) -> list[Path]:
    """Write the formats into `out` (all or nothing); returns the final paths of the files written.

    With a `skipped` dict, a format that refuses this configuration (UserError) is left out and
    its reason recorded there instead (the default export: every format the configuration can
    take); it is still an error when every format refuses.
    """
    out = check_output(out, force)
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.absolute().parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        written: list[Path] = []
        done: list[str] = []
        for name in formats:
            staging = tmp / f".staging-{name}"
            staging.mkdir()
            try:
                files = importlib.import_module(FORMATS[name]).write(ctx, staging)
            except UserError as exc:
                if skipped is None:
                    raise
                skipped[name] = str(exc)
                shutil.rmtree(staging)
                continue
            for path in files:  # formats write flat file names; a refused one leaves nothing behind
                os.replace(path, tmp / path.name)
                written.append(tmp / path.name)
            shutil.rmtree(staging)
            done.append(name)
        if not done:
            first = next(iter(skipped.values())) if skipped else "no format given"
            raise UserError(f"no format can express this configuration: {first}")
        manifest = _manifest(ctx, done, [p.name for p in written])
        if skipped:
            manifest["skipped"] = dict(skipped)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / p.name for p in written] + [out / MANIFEST_NAME]


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.absolute().parent))
        old.rmdir()
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _manifest(ctx: ExportContext, formats: list[str], files: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": ctx.source, "formats": formats, "files": files, "dataset": ctx.dataset, "input_step": ctx.in_step,
        "candidate": ctx.candidate.to_dict(),
    }
    if "integer_net" in ctx.__dict__:  # built by an integer format
        doc["scale_bits"] = {layer.name: layer.scale_bits for layer in ctx.integer_net.layers}
    return doc


__all__ = ["FORMATS", "ExportContext", "check_output", "export_to", "parse_formats"]
