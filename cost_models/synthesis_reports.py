"""Resource counts from synthesis reports: yosys `stat -json` and Vivado `report_utilization` text.

Both become one SynthesisCounts (LUT, FF, BRAM18, DSP, CARRY4, LUTRAM LUTs). yosys cells are
counted as Vivado counts them: LUT1-6 and INV (yosys 0.23 leaves INV cells; each is one LUT1)
plus the LUTs inside LUTRAM and SRL cells are "Slice LUTs"; FD* flip-flops and LD* latches are
registers; a RAMB36 is two BRAM18; DSP48E1/E2 are DSPs. A report without LUT or FF counts is
refused with a one-line ReportError, as is a file of neither format. A Vivado report names its
device (the `Device :` header row, e.g. xc7z020clg400-1, or 7z020clg400-1 without the xc); a yosys
stat does not (the part is in the script that ran it: its synth_xilinx -family).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

REPORT_FORMATS = ("yosys-json", "vivado-utilization")

LOGIC_LUT_CELLS = {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "LUT6_2": 1, "INV": 1}
# LUTs inside each distributed-RAM / shift-register primitive (UG474, 7 series CLB user guide)
MEMORY_LUT_CELLS = {
    "RAM32X1S": 1, "RAM32X1D": 2, "RAM32M": 4, "RAM32M16": 8, "RAM64X1S": 1, "RAM64X1D": 2, "RAM64M": 4,
    "RAM64M8": 8, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8, "RAM512X1S": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
BRAM18_CELLS = {"RAMB18E1": 1, "RAMB18E2": 1, "RAMB36E1": 2, "RAMB36E2": 2, "FIFO18E1": 1, "FIFO36E1": 2}
DSP_CELLS = ("DSP48E1", "DSP48E2")
CARRY_CELLS = ("CARRY4", "CARRY8")


class ReportError(ValueError):
    """A synthesis report that cannot be read; the message is one line naming the file."""


@dataclass(frozen=True)
class SynthesisCounts:
    """Resources of one synthesized design, in the units of the cost model (BRAM18, DSP48)."""

    lut: int
    ff: int
    bram18: int
    dsp: int
    carry4: int
    lutram_luts: int
    source_format: str
    device: str | None = None  # the FPGA part the report names (Vivado's Device row); None for yosys

    def to_dict(self) -> dict:
        return asdict(self)


def _cells(data: dict, where: str) -> dict[str, int]:
    design = data.get("design")
    if isinstance(design, dict) and isinstance(design.get("num_cells_by_type"), dict):
        return {str(k): int(v) for k, v in design["num_cells_by_type"].items()}
    modules = data.get("modules")
    if isinstance(modules, dict) and len(modules) == 1:
        (module,) = modules.values()
        if isinstance(module, dict) and isinstance(module.get("num_cells_by_type"), dict):
            return {str(k): int(v) for k, v in module["num_cells_by_type"].items()}
    raise ReportError(f"{where}: yosys stat JSON without 'design.num_cells_by_type' (run 'stat -json' after synth_xilinx -flatten)")


def parse_yosys_stat(text: str, where: str = "report") -> SynthesisCounts:
    """Counts from the JSON that yosys `stat -json` prints (after synth_xilinx)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{where}: a yosys stat JSON is an object with a 'design' entry")
    cells = _cells(data, where)
    logic = sum(n * cells.get(c, 0) for c, n in LOGIC_LUT_CELLS.items())
    memory = sum(n * cells.get(c, 0) for c, n in MEMORY_LUT_CELLS.items())
    ffs = sum(cells.get(c, 0) for c in FF_CELLS)
    if logic + memory == 0 or ffs == 0:
        missing = "LUT" if logic + memory == 0 else "FF"
        raise ReportError(f"{where}: no {missing} cells in the yosys stat (was it mapped with synth_xilinx?); "
                          "accepted: a stat -json of a design mapped to 7-series cells")
    return SynthesisCounts(
        lut=logic + memory, ff=ffs,
        bram18=sum(n * cells.get(c, 0) for c, n in BRAM18_CELLS.items()),
        dsp=sum(cells.get(c, 0) for c in DSP_CELLS),
        carry4=sum(cells.get(c, 0) for c in CARRY_CELLS),
        lutram_luts=memory, source_format="yosys-json",
    )


_ROW = re.compile(r"^\|\s*([^|]*?)\s*\|(.*)\|\s*$")


def _table_rows(text: str) -> dict[str, list[str]]:
    """First occurrence of every table row: site type -> the remaining cells (stripped)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        name = m.group(1).rstrip("*").strip()
        cells = [c.strip() for c in m.group(2).split("|")]
        rows.setdefault(name, cells)
    return rows


def _used(rows: dict[str, list[str]], names: tuple[str, ...]) -> float | None:
    for name in names:
        if name in rows and rows[name] and rows[name][0]:
            try:
                return float(rows[name][0])
            except ValueError:
                return None
    return None


def parse_vivado_utilization(text: str, where: str = "report") -> SynthesisCounts:
    """Counts from Vivado's `report_utilization` text (7 series and UltraScale table names).

    "Block RAM Tile" is in RAMB36 units (0.5 per RAMB18) and becomes BRAM18 x 2; CARRY4 comes
    from the Primitives table when present (0 otherwise).
    """
    rows = _table_rows(text)
    lut = _used(rows, ("Slice LUTs", "CLB LUTs"))
    ff = _used(rows, ("Slice Registers", "CLB Registers"))
    if lut is None or ff is None:
        missing = "LUT ('Slice LUTs')" if lut is None else "FF ('Slice Registers')"
        raise ReportError(f"{where}: Vivado utilization report without a {missing} row; "
                          "accepted: the text of report_utilization")
    bram_tiles = _used(rows, ("Block RAM Tile",)) or 0.0
    dsp = _used(rows, ("DSPs",)) or 0.0
    memory = _used(rows, ("LUT as Memory",)) or 0.0
    carry = _used(rows, ("CARRY4", "CARRY8")) or 0.0
    device = _DEVICE.search(text)
    return SynthesisCounts(
        lut=int(lut), ff=int(ff), bram18=int(round(2 * bram_tiles)), dsp=int(dsp), carry4=int(carry),
        lutram_luts=int(memory), source_format="vivado-utilization", device=device.group(1) if device else None,
    )


_DEVICE = re.compile(r"^\|\s*Device\s*:\s*(\S+)", re.M)


def same_part(a: str, b: str) -> bool:
    """Whether two part names are one part: case and Vivado's dropped 'xc' prefix ignored
    (xc7z020clg400-1 == 7z020clg400-1 == XC7Z020CLG400-1)."""
    def norm(name: str) -> str:
        name = name.strip().lower()
        return name[2:] if name.startswith("xc") else name

    return norm(a) == norm(b)


def detect_format(text: str) -> str | None:
    """'yosys-json', 'vivado-utilization', or None."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "yosys-json"
    if "Utilization Design Information" in text or re.search(r"^\|\s*(Slice|CLB) LUTs", text, re.M):
        return "vivado-utilization"
    return None


def read_report(path: str | Path, report_format: str | None = None) -> SynthesisCounts:
    """Read one report; the format is detected from the content unless given."""
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        raise ReportError(f"{p}: cannot read ({exc.strerror})") from None
    fmt = report_format or detect_format(text)
    if fmt == "yosys-json":
        return parse_yosys_stat(text, str(p))
    if fmt == "vivado-utilization":
        return parse_vivado_utilization(text, str(p))
    raise ReportError(f"{p}: unknown report format; accepted: {', '.join(REPORT_FORMATS)} "
                      "(yosys 'stat -json' output, Vivado report_utilization text)")
