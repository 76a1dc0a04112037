"""Fit the FPGA template's LUT and FF constants to synthesis results (`dse calibrate`).

Each design's total is linear in the constants: LUT = sum over layers of
control_luts + lut_per_unit_bit x unit bits + lut_per_multiplier_lut x LUT-multiplier LUTs
+ lut_per_memory_lut x LUTRAM LUTs (fpga.layer_counts), and FF likewise with FF_TERMS. The fit is
non-negative least squares on the relative error (each design's row divided by its measured
count, so small and large designs weigh alike). Held-out error is leave-one-out: each design is
predicted by the constants fitted to the others. BRAM18 and DSP are not fitted (the template
sets them: memory styles and multipliers are chosen in the Verilog), only reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import nnls

from cost_models.fpga import layer_counts
from cost_models.network import layer_specs
from cost_models.synthesis_reports import ReportError, SynthesisCounts, read_report
from cost_models.template_constants import DEFAULT_CONSTANTS, FF_TERMS, LUT_TERMS, TemplateConstants
from search_spaces.candidate import Candidate

MIN_POINTS = len(LUT_TERMS) + 2  # a fit of 4 constants needs more designs than constants, plus one to hold out


class CalibrationError(ValueError):
    """Too few or unusable points; one line."""


@dataclass(frozen=True)
class DesignPoint:
    """One synthesized design: its candidate (the template's parameters) and the measured counts."""

    name: str
    candidate: Candidate
    measured: SynthesisCounts


def features(candidate: Candidate, lutram_max_depth: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Summed LUT and FF feature rows of a design, and its template BRAM18 and DSP counts."""
    counts = [layer_counts(spec, lutram_max_depth) for spec in layer_specs(candidate)]
    lut = np.sum([c.lut_features() for c in counts], axis=0)
    ff = np.sum([c.ff_features() for c in counts], axis=0)
    return lut, ff, sum(c.bram18 for c in counts), sum(c.dsp for c in counts)


def _fit(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Non-negative least squares of relative errors: minimise sum ((row . c) / y - 1)^2."""
    weights = 1.0 / np.maximum(targets, 1.0)
    coef, _ = nnls(rows * weights[:, None], targets * weights)
    return coef


def _relative_errors(pred: np.ndarray, measured: np.ndarray) -> np.ndarray:
    return (pred - measured) / np.maximum(measured, 1.0)


@dataclass
class QuantityFit:
    """The fit of one quantity (lut or ff): constants, and errors before and after."""

    terms: tuple[str, ...]
    coefficients: list[float]
    before_pred: list[float]
    after_pred: list[float]
    heldout_pred: list[float]  # leave-one-out prediction of each point
    measured: list[float]

    def _mape(self, pred: list[float]) -> float:
        return float(np.mean(np.abs(_relative_errors(np.array(pred), np.array(self.measured)))))

    @property
    def before_mean_abs_rel_error(self) -> float:
        return self._mape(self.before_pred)

    @property
    def fit_mean_abs_rel_error(self) -> float:
        return self._mape(self.after_pred)

    @property
    def heldout_mean_abs_rel_error(self) -> float:
        return self._mape(self.heldout_pred)


@dataclass
class Calibration:
    """Fitted constants with the per-design predictions that judge them."""

    constants: TemplateConstants
    names: list[str]
    fits: dict[str, QuantityFit]
    template_bram18: list[int] = field(default_factory=list)
    template_dsp: list[int] = field(default_factory=list)
    measured_bram18: list[int] = field(default_factory=list)
    measured_dsp: list[int] = field(default_factory=list)

    def record(self, source: str) -> dict:
        """What the target file keeps: the fit, its errors, and per-design residuals."""
        out: dict = {"source": source, "points": len(self.names), "method": (
            "non-negative least squares on relative error; held-out = leave-one-out refit "
            "(cost_models/calibrate.py)")}
        for q, fit in self.fits.items():
            out[q] = {
                "mean_abs_rel_error_default_constants": round(fit.before_mean_abs_rel_error, 4),
                "mean_abs_rel_error_fitted": round(fit.fit_mean_abs_rel_error, 4),
                "mean_abs_rel_error_heldout": round(fit.heldout_mean_abs_rel_error, 4),
            }
        out["residuals"] = [
            {
                "design": name,
                **{f"{q}_measured": int(fit.measured[i]) for q, fit in self.fits.items()},
                **{f"{q}_fitted": int(round(fit.after_pred[i])) for q, fit in self.fits.items()},
                **{f"{q}_heldout": int(round(fit.heldout_pred[i])) for q, fit in self.fits.items()},
                "bram18_measured": self.measured_bram18[i], "bram18_template": self.template_bram18[i],
                "dsp_measured": self.measured_dsp[i], "dsp_template": self.template_dsp[i],
            }
            for i, name in enumerate(self.names)
        ]
        return out


def _quantity_fit(rows: np.ndarray, measured: np.ndarray, terms: tuple[str, ...], base: TemplateConstants) -> QuantityFit:
    default = np.array([getattr(base, t) for t in terms], dtype=float)
    coef = _fit(rows, measured)
    heldout = []
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        heldout.append(float(rows[i] @ _fit(rows[keep], measured[keep])))
    return QuantityFit(
        terms=terms, coefficients=[float(c) for c in coef], before_pred=(rows @ default).tolist(),
        after_pred=(rows @ coef).tolist(), heldout_pred=heldout, measured=measured.tolist(),
    )


def calibrate(points: list[DesignPoint], base: TemplateConstants = DEFAULT_CONSTANTS) -> Calibration:
    """Fit LUT_TERMS and FF_TERMS to the points; CalibrationError with fewer than MIN_POINTS."""
    if len(points) < MIN_POINTS:
        raise CalibrationError(
            f"{len(points)} synthesized design(s) given; the fit of {len(LUT_TERMS)} LUT constants needs at least "
            f"{MIN_POINTS} (more designs than constants, and one to hold out)"
        )
    depth = base.lutram_max_depth
    lut_rows, ff_rows, brams, dsps = [], [], [], []
    for p in points:
        lut, ff, bram, dsp = features(p.candidate, depth)
        lut_rows.append(lut)
        ff_rows.append(ff)
        brams.append(bram)
        dsps.append(dsp)
    lut_rows_a, ff_rows_a = np.array(lut_rows), np.array(ff_rows)
    fits = {
        "lut": _quantity_fit(lut_rows_a, np.array([p.measured.lut for p in points], float), LUT_TERMS, base),
        "ff": _quantity_fit(ff_rows_a, np.array([p.measured.ff for p in points], float), FF_TERMS, base),
    }
    values = {t: c for fit in fits.values() for t, c in zip(fit.terms, fit.coefficients)}
    return Calibration(
        constants=replace(base, **values), names=[p.name for p in points], fits=fits,
        template_bram18=brams, template_dsp=dsps,
        measured_bram18=[p.measured.bram18 for p in points], measured_dsp=[p.measured.dsp for p in points],
    )


# ---------------------------------------------------------------- report folders

MANIFEST = "manifest.yaml"  # a report folder's index: designs: [{name, report, format?, candidate}]


def _manifest(folder: Path) -> list[dict]:
    """The manifest's list of designs, each with a report and a candidate."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise CalibrationError(f"--reports {folder}: not a folder")
    if not path.is_file():
        raise CalibrationError(f"--reports {folder}: no {MANIFEST} (a list 'designs:' of name, report, candidate)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CalibrationError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    designs = data.get("designs") if isinstance(data, dict) else None
    if not isinstance(designs, list):
        raise CalibrationError(f"{path}: needs a list 'designs:' of entries with name, report, candidate")
    for i, entry in enumerate(designs):
        if not isinstance(entry, dict) or not {"report", "candidate"} <= set(entry):
            raise CalibrationError(f"{path}: designs[{i}] needs 'report' and 'candidate'")
    return designs


def read_design_points(folder: str | Path) -> list[DesignPoint]:
    """The DesignPoints of a report folder: its manifest.yaml pairs each synthesis report with the design's
    Candidate. CalibrationError (one line) on any bad entry."""

    folder = Path(folder)
    points = []
    for i, entry in enumerate(_manifest(folder)):
        name = str(entry.get("name", entry["report"]))
        try:
            candidate = Candidate.from_dict(dict(entry["candidate"]))
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{folder / MANIFEST}: designs[{i}] ({name}): candidate: {str(exc).splitlines()[0]}") from None
        fmt = entry.get("format")
        try:
            measured = read_report(folder / str(entry["report"]), fmt)
        except ReportError as exc:
            raise CalibrationError(str(exc)) from None
        points.append(DesignPoint(name, candidate, measured))
    return points
