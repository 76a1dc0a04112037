"""Fit the FPGA template's LUT and FF constants to synthesis results (`dse calibrate`), and judge the fit.

Each design's total is linear in the constants: LUT = sum over layers of LUT_TERMS x
LayerCounts.lut_features(), FF likewise with FF_TERMS (cost_models/fpga.py layer_counts). The fit
is bounded least squares (scipy.optimize.lsq_linear) on the relative error (each design's row
divided by its measured count, so small and large designs weigh alike), every constant at least
its physical lower bound (template_constants.CONSTANT_BOUNDS: the smallest real cost of its
part). A term no design of the fit exercises keeps its base value. Held-out error: leave-one-out
(each design predicted by the constants fitted to the others), and by family (`validate`): fit
on static MLPs and predict conv and event-input designs, the reverse, and fit on P < 8 and
predict P >= 8. BRAM18 and DSP are not fitted (the template sets them: memory styles and
multipliers are chosen in the Verilog), only reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import lsq_linear

from cost_models.fpga import layer_counts
from cost_models.network import layer_specs
from cost_models.synthesis_reports import ReportError, SynthesisCounts, read_report
from cost_models.template_constants import (
    CONSTANT_BOUNDS, DEFAULT_CONSTANTS, FF_TERMS, LUT_TERMS, TemplateConstants,
)
from search_spaces.candidate import Candidate

FITTED_LUT_TERMS = tuple(t for t in LUT_TERMS if not CONSTANT_BOUNDS[t].fixed)
MIN_POINTS = len(FITTED_LUT_TERMS) + 2  # more designs than fitted constants, plus one to hold out


class CalibrationError(ValueError):
    """Too few or unusable points; one line."""


FAMILIES = ("mlp", "per-type", "conv", "events")  # the synthesis grid's families (benchmarks/synthesis)
STATIC_MLP_FAMILIES = ("mlp", "per-type")
HIGH_PARALLELISM = 8  # `validate`'s P split: designs whose largest P is at least this are "high P"


def design_family(candidate: Candidate) -> str:
    """A design's family: events (event-frame input), conv (static conv), per-type (a static MLP of
    a quantizer type other than uniform), or mlp (a static uniform MLP)."""
    if getattr(candidate, "input_kind", "static") == "events":
        return "events"
    if candidate.family == "conv":
        return "conv"
    return "mlp" if candidate.quantizer == "uniform" else "per-type"


@dataclass(frozen=True)
class DesignPoint:
    """One synthesized design: its candidate (the template's parameters), the measured counts, its
    family (`design_family` unless the manifest names one), and the part or yosys family it was
    synthesized for when known (`dse calibrate` refuses reports of another part than the target's)."""

    name: str
    candidate: Candidate
    measured: SynthesisCounts
    family: str = ""
    part: str | None = None
    yosys_family: str | None = None

    @property
    def group(self) -> str:
        return self.family or design_family(self.candidate)


def features(candidate: Candidate, lutram_max_depth: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Summed LUT and FF feature rows of a design, and its template BRAM18 and DSP counts."""
    counts = [layer_counts(spec, lutram_max_depth) for spec in layer_specs(candidate)]
    lut = np.sum([c.lut_features() for c in counts], axis=0)
    ff = np.sum([c.ff_features() for c in counts], axis=0)
    return lut, ff, sum(c.bram18 for c in counts), sum(c.dsp for c in counts)


def lower_bounds(terms: tuple[str, ...]) -> np.ndarray:
    """Each constant's physical lower bound (template_constants.CONSTANT_BOUNDS)."""
    return np.array([CONSTANT_BOUNDS[t].lower for t in terms], dtype=float)


def fixed_terms(terms: tuple[str, ...]) -> np.ndarray:
    """Which constants are counted at their bound, not fitted (CONSTANT_BOUNDS[t].fixed)."""
    return np.array([CONSTANT_BOUNDS[t].fixed for t in terms], dtype=bool)


def _fit(rows: np.ndarray, targets: np.ndarray, lower: np.ndarray, base: np.ndarray,
         fixed: np.ndarray | None = None) -> np.ndarray:
    """Bounded least squares of relative errors: minimise sum ((row . c) / y - 1)^2 with c >= lower.
    Fixed columns keep their bound (their part is subtracted first); columns that are zero in every
    row (a part no design has) keep max(base, lower)."""
    fixed = np.zeros(rows.shape[1], bool) if fixed is None else fixed
    coef = np.maximum(base, lower).astype(float)
    coef[fixed] = lower[fixed]
    used = np.any(rows != 0, axis=0) & ~fixed
    weights = 1.0 / np.maximum(targets, 1.0)
    rest = targets - rows[:, fixed] @ coef[fixed]
    if used.any():
        result = lsq_linear(rows[:, used] * weights[:, None], rest * weights,
                            bounds=(lower[used], np.full(int(used.sum()), np.inf)), method="bvls")
        coef[used] = np.maximum(result.x, lower[used])  # bvls ends on the bound, float noise aside
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
            "bounded least squares (scipy lsq_linear) on relative error, each constant at least its physical "
            "lower bound; held-out = leave-one-out refit (cost_models/calibrate.py)")}
        for q, fit in self.fits.items():
            out[q] = {
                "mean_abs_rel_error_default_constants": round(fit.before_mean_abs_rel_error, 4),
                "mean_abs_rel_error_fitted": round(fit.fit_mean_abs_rel_error, 4),
                "mean_abs_rel_error_heldout": round(fit.heldout_mean_abs_rel_error, 4),
                "at_lower_bound": [t for t, c in zip(fit.terms, fit.coefficients) if not CONSTANT_BOUNDS[t].fixed
                                   and c <= CONSTANT_BOUNDS[t].lower * (1 + 1e-9) + 1e-12],
                "counted_not_fitted": [t for t in fit.terms if CONSTANT_BOUNDS[t].fixed],
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
    lower, fixed = lower_bounds(terms), fixed_terms(terms)
    coef = _fit(rows, measured, lower, default, fixed)
    heldout = []
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        heldout.append(float(rows[i] @ _fit(rows[keep], measured[keep], lower, default, fixed)))
    return QuantityFit(
        terms=terms, coefficients=[float(c) for c in coef], before_pred=(rows @ default).tolist(),
        after_pred=(rows @ coef).tolist(), heldout_pred=heldout, measured=measured.tolist(),
    )


def calibrate(points: list[DesignPoint], base: TemplateConstants = DEFAULT_CONSTANTS) -> Calibration:
    """Fit LUT_TERMS and FF_TERMS to the points; CalibrationError with fewer than MIN_POINTS."""
    if len(points) < MIN_POINTS:
        raise CalibrationError(
            f"{len(points)} synthesized design(s) given; the fit of {len(FITTED_LUT_TERMS)} LUT constants needs at least "
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


# ---------------------------------------------------------------- validation by family


def _feature_rows(points: list[DesignPoint], depth: int) -> tuple[np.ndarray, np.ndarray]:
    rows = [features(p.candidate, depth)[:2] for p in points]
    return np.array([r[0] for r in rows], float), np.array([r[1] for r in rows], float)


def errors_by_family(families: list[str], predicted: np.ndarray, measured: np.ndarray) -> dict[str, dict]:
    """Per family (and 'all'): designs n, mean and max of |predicted - measured| / measured."""
    rel = np.abs(_relative_errors(np.asarray(predicted, float), np.asarray(measured, float)))
    fams = np.array(families)
    order = [f for f in FAMILIES if f in set(families)] + sorted(set(families) - set(FAMILIES))
    out = {}
    for name, mask in [(f, fams == f) for f in order] + [("all", np.ones(len(fams), bool))]:
        if mask.any():
            out[name] = {"n": int(mask.sum()), "mean": round(float(rel[mask].mean()), 4),
                         "max": round(float(rel[mask].max()), 4)}
    return out


@dataclass
class HeldOut:
    """One held-out test: constants fitted on `train`, errors on `test` per family and quantity."""

    name: str
    description: str
    train: list[str]
    test: list[str]
    errors: dict[str, dict[str, dict]]  # quantity -> family -> {n, mean, max}
    constants: dict[str, float]

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "train": self.train, "test": self.test,
                "errors": self.errors, "constants": {k: round(v, 4) for k, v in self.constants.items()}}


def fit_and_predict(points: list[DesignPoint], train: np.ndarray, base: TemplateConstants = DEFAULT_CONSTANTS
                    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Fit on the points where `train` is True; every point's predicted LUT and FF, and the constants."""
    lut_rows, ff_rows = _feature_rows(points, base.lutram_max_depth)
    predicted, constants = {}, {}
    for q, rows, terms in (("lut", lut_rows, LUT_TERMS), ("ff", ff_rows, FF_TERMS)):
        measured = np.array([getattr(p.measured, q) for p in points], float)
        coef = _fit(rows[train], measured[train], lower_bounds(terms),
                    np.array([getattr(base, t) for t in terms], float), fixed_terms(terms))
        predicted[q] = rows @ coef
        constants.update(zip(terms, (float(c) for c in coef)))
    return predicted, constants


def validation_splits(points: list[DesignPoint]) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, description, train mask, test mask) of the by-family tests."""
    static_mlp = np.array([p.group in STATIC_MLP_FAMILIES for p in points])
    high = np.array([max(p.candidate.parallelism) >= HIGH_PARALLELISM for p in points])
    return [
        ("static MLP -> conv + events", "fit on static MLPs (families mlp, per-type); predict the conv and "
         "event-input designs", static_mlp, ~static_mlp),
        ("conv + events -> static MLP", "fit on conv and event-input designs; predict the static MLPs",
         ~static_mlp, static_mlp),
        (f"P < {HIGH_PARALLELISM} -> P >= {HIGH_PARALLELISM}", f"fit on designs whose largest P is below "
         f"{HIGH_PARALLELISM}; predict those with a layer of P >= {HIGH_PARALLELISM}", ~high, high),
    ]


def validate(points: list[DesignPoint], base: TemplateConstants = DEFAULT_CONSTANTS) -> dict:
    """Held-out error by family: the base constants (no fit), leave-one-out, and each split of
    `validation_splits`; a split whose training set is smaller than MIN_POINTS - 1 is listed as skipped."""
    families = [p.group for p in points]
    measured = {q: np.array([getattr(p.measured, q) for p in points], float) for q in ("lut", "ff")}
    lut_rows, ff_rows = _feature_rows(points, base.lutram_max_depth)
    default = {"lut": lut_rows @ np.array([getattr(base, t) for t in LUT_TERMS], float),
               "ff": ff_rows @ np.array([getattr(base, t) for t in FF_TERMS], float)}
    loo = {q: np.zeros(len(points)) for q in measured}
    for i in range(len(points)):
        train = np.arange(len(points)) != i
        pred, _ = fit_and_predict(points, train, base)
        for q in loo:
            loo[q][i] = pred[q][i]
    everything, constants = fit_and_predict(points, np.ones(len(points), bool), base)
    out: dict = {
        "designs": {p.name: p.group for p in points},
        "constants_all_designs": {k: round(v, 4) for k, v in constants.items()},
        "bounds": {t: CONSTANT_BOUNDS[t].lower for t in LUT_TERMS + FF_TERMS},
        "base_constants": {q: errors_by_family(families, default[q], measured[q]) for q in measured},
        "fitted_all_designs": {q: errors_by_family(families, everything[q], measured[q]) for q in measured},
        "leave_one_out": {q: errors_by_family(families, loo[q], measured[q]) for q in measured},
        "splits": [],
    }
    names = [p.name for p in points]
    for name, description, train, test in validation_splits(points):
        if int(train.sum()) < MIN_POINTS - 1 or not test.any():
            out["splits"].append({"name": name, "description": description, "skipped": (
                f"{int(train.sum())} designs to fit and {int(test.sum())} to test; needs {MIN_POINTS - 1} and 1")})
            continue
        pred, fitted = fit_and_predict(points, train, base)
        test_families = [f for f, t in zip(families, test) if t]
        errors = {q: errors_by_family(test_families, pred[q][test], measured[q][test]) for q in measured}
        out["splits"].append(HeldOut(
            name, description, [n for n, t in zip(names, train) if t], [n for n, t in zip(names, test) if t],
            errors, fitted).to_dict())
    return out


# ---------------------------------------------------------------- report folders

MANIFEST = "manifest.yaml"  # a report folder's index: designs: [{name, report, format?, candidate}]


def _manifest(folder: Path) -> tuple[dict, list[dict]]:
    """The manifest's top-level mapping and its list of designs, each with a report and a candidate."""
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
    return data, designs


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def read_design_points(folder: str | Path) -> list[DesignPoint]:
    """The DesignPoints of a report folder: its manifest.yaml pairs each synthesis report with the design's
    Candidate; optional per design `grid_family` (mlp, per-type, conv, events), and per design or at the
    top `part` (the FPGA part synthesized for) and `yosys_family` (synth_xilinx -family). A Vivado
    report's own Device row wins over the manifest's part. CalibrationError (one line) on any bad entry."""

    folder = Path(folder)
    points = []
    top, designs = _manifest(folder)
    for i, entry in enumerate(designs):
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
        part = measured.device or _optional_text(entry.get("part", top.get("part")))
        yosys_family = None if measured.source_format != "yosys-json" else \
            _optional_text(entry.get("yosys_family", top.get("yosys_family")))
        points.append(DesignPoint(name, candidate, measured, str(entry.get("grid_family") or ""), part, yosys_family))
    return points
