"""Held-out error of the calibration by family, on the stored yosys grid: writes validation.json here.

    python benchmarks/synthesis/validate_calibration.py

Reads reports/manifest.yaml (run_grid.py) and runs cost_models.calibrate.validate: the default
constants (no fit), the fit on all designs, leave-one-out, and the by-family tests (fit on static
MLPs, predict conv and event-input designs; the reverse; fit on P < 8, predict P >= 8), each with
the mean and max |estimate - yosys| / yosys per family for LUT and FF, and the constants each fit
found (all within template_constants.CONSTANT_BOUNDS). Prints the markdown tables of
docs/cost-models.md (section 12). Takes about a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cost_models.calibrate import read_design_points, validate  # noqa: E402
from cost_models.template_constants import CONSTANT_BOUNDS, FF_TERMS, LUT_TERMS  # noqa: E402

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
OUT = HERE / "validation.json"


def _cell(err: dict | None) -> str:
    return "-" if err is None else f"{err['mean']:.1%} / {err['max']:.1%} ({err['n']})"


def rows(result: dict) -> list[tuple[str, str, dict, dict]]:
    """(test, family, LUT errors, FF errors) for every test and family of `validate`'s result."""
    out = []
    named = [("default constants (no fit)", result["base_constants"]),
             ("fitted on all designs (in sample)", result["fitted_all_designs"]),
             ("leave-one-out", result["leave_one_out"])]
    named += [(s["name"], s.get("errors")) for s in result["splits"]]
    for name, errors in named:
        if errors is None:
            out.append((name, "skipped", {}, {}))
            continue
        for family in errors["lut"]:
            out.append((name, family, errors["lut"][family], errors["ff"].get(family)))
    return out


def main() -> int:
    points = read_design_points(REPORTS)
    result = validate(points)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(points)} designs; mean / max |estimate - yosys| / yosys (designs)\n")
    print("| test | family | LUT | FF |")
    print("|---|---|---|---|")
    for name, family, lut, ff in rows(result):
        print(f"| {name} | {family} | {_cell(lut) if lut else '-'} | {_cell(ff) if ff else '-'} |")
    print("\n| constant | lower bound | fitted on all designs | static MLP -> conv + events | conv + events -> static MLP "
          "| P < 8 -> P >= 8 |")
    print("|---|---|---|---|---|---|")
    splits = [s for s in result["splits"] if "constants" in s]
    for t in LUT_TERMS + FF_TERMS:
        bound = CONSTANT_BOUNDS[t]
        print(f"| {t} | {bound.lower:.3g}{' (counted)' if bound.fixed else ''} | {result['constants_all_designs'][t]:.3g} | "
              + " | ".join(f"{s['constants'][t]:.3g}" for s in splits) + " |")
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
