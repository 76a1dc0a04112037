"""Estimate vs yosys for the stored grid, and held-out error before/after calibration (markdown).

    python benchmarks/synthesis/compare.py

Reads reports/manifest.yaml and the yosys stat files that run_grid.py stored; prints the
per-design table of docs/cost-models.md (section 12: family, LUT and FF with the default and the
fitted constants, LUTRAM LUTs, BRAM18 and DSP, estimate / yosys) and the leave-one-out calibration
errors. By-family held-out errors: validate_calibration.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cost_models.calibrate import calibrate  # noqa: E402
from cost_models.report import evaluate  # noqa: E402
from cost_models.calibrate import read_design_points  # noqa: E402
from cost_models.fpga import layer_counts  # noqa: E402
from cost_models.network import layer_specs  # noqa: E402

REPORTS = Path(__file__).resolve().parent / "reports"


def _ratio(est: float, measured: float) -> str:
    return f"{est / measured:.2f}" if measured else ("-" if est == 0 else "inf")


def main() -> int:
    points = read_design_points(REPORTS)
    cal = calibrate(points)
    print("| design | family | yosys LUT | est. LUT default (ratio) | est. LUT fitted (ratio) | yosys FF | est. FF (ratio) "
          "| LUTRAM LUTs est / yosys | BRAM18 est / yosys | DSP est / yosys |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, p in enumerate(points):
        r = evaluate(p.candidate, "fpga-small")
        m = p.measured
        fitted = cal.fits["lut"].after_pred[i]
        lutram = sum(layer_counts(spec).lutram_luts for spec in layer_specs(p.candidate))
        print(f"| {p.name} | {p.group} | {m.lut:,} | {r.lut:,} ({_ratio(r.lut, m.lut)}) | {fitted:,.0f} ({_ratio(fitted, m.lut)}) "
              f"| {m.ff:,} | {r.ff:,} ({_ratio(r.ff, m.ff)}) | {lutram} / {m.lutram_luts} "
              f"| {r.bram18} / {m.bram18} | {r.dsp} / {m.dsp} |")
    print()
    print("| quantity | mean abs rel. error, default constants | fitted (in sample) | held out (leave-one-out) |")
    print("|---|---|---|---|")
    for q, fit in cal.fits.items():
        print(f"| {q.upper()} | {fit.before_mean_abs_rel_error:.1%} | {fit.fit_mean_abs_rel_error:.1%} | "
              f"{fit.heldout_mean_abs_rel_error:.1%} |")
    print()
    print("fitted constants: " + ", ".join(f"{k} = {getattr(cal.constants, k):.3g}"
                                           for fit in cal.fits.values() for k in fit.terms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
