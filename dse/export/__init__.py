"""Export of one trained configuration: a registry of formats, one module each, written all-or-nothing.

| format | files                                              | module         |
|--------|----------------------------------------------------|----------------|
| yaml   | candidate.yaml (the Candidate)                      | yaml_format.py |
| npz    | network.npz (IntegerNetwork: codes, scales, M, ...) | npz_format.py  |
| nir    | network.nir + network.nir.json (sidecar)            | nir_format.py  |
| mem    | layerI_weights.mem / .coe + mem_manifest.json       | mem_format.py  |
| pt     | model.pt (state dict + candidate, a checkpoint)     | pt_format.py   |
| verilog | snn_layer.v, snn_conv.v (conv networks), snn_top.v, verilog_*.mem, verilog_params.json | verilog.py |
| spikerplus | spikerplus_{net_dict,optim_config,export}.json, spikerplus_state_dict.pt, Spiker+'s *.vhd | spikerplus_format.py |

verilog_params.json lists the Verilog `sources` (top last, what yosys reads), every instance's
parameters, the event stream's format and every memory the design declares per layer (the ones
cost_models/fpga.py books: docs/cost-models.md, FPGA template).

export_to(ctx, formats, out, force) writes every format into a temporary folder beside `out` and
moves the files into place only when all succeeded, so a refused format leaves nothing behind.
A new `out` is the renamed temporary folder. With --force into an existing `out`, only the files
this export writes are replaced, and the files an earlier export listed in its export.json are
removed; every other file in the folder (a study.db, the user's notes) is kept.
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
    "spikerplus": "dse.export.spikerplus_format",
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
        raise UserError(f"output {out} already exists; choose another --out or give --force to replace the files "
                        "an export writes there (other files are kept)")
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    check_writable_folder(out)
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
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / p.name for p in written] + [out / MANIFEST_NAME]


def _move_into_place(tmp: Path, out: Path) -> None:
    """A new `out` is the renamed temporary folder; into an existing one (--force) only the export's files
    are moved, replacing those of the same name, and the files of an earlier export that this one does not
    write again are removed. Nothing else in `out` is touched; a name the export needs that is taken by
    something other than a plain file is refused before anything moves."""
    if not out.exists():
        os.replace(tmp, out)
        return
    names = sorted(p.name for p in tmp.iterdir())
    taken = [n for n in names if (out / n).exists() and not (out / n).is_file() or (out / n).is_symlink()]
    if taken:
        raise UserError(f"--out {out} holds {taken[0]!r}, which is not a plain file, where the export writes a file; "
                        "move it away or choose another --out")
    stale = [n for n in _previous_export_files(out) if n not in names and (out / n).is_file() and not (out / n).is_symlink()]
    for name in names:  # the manifest goes last: a folder with a new export.json holds the whole new export
        if name != MANIFEST_NAME:
            os.replace(tmp / name, out / name)
    for name in stale:
        (out / name).unlink()
    os.replace(tmp / MANIFEST_NAME, out / MANIFEST_NAME)
    tmp.rmdir()


def _previous_export_files(out: Path) -> list[str]:
    """File names an earlier export listed in out/export.json (flat names only); [] when there is none."""
    try:
        listed = json.loads((out / MANIFEST_NAME).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in listed if isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..")]


def _manifest(ctx: ExportContext, formats: list[str], files: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": ctx.source, "formats": formats, "files": files, "dataset": ctx.dataset, "input_step": ctx.in_step,
        "candidate": ctx.candidate.to_dict(),
    }
    if "integer_net" in ctx.__dict__:  # built by an integer format
        doc["scale_bits"] = {layer.name: layer.scale_bits for layer in ctx.integer_net.layers}
    return doc


__all__ = ["FORMATS", "ExportContext", "check_output", "export_to", "parse_formats"]
