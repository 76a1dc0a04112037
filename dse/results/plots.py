"""Pareto plots of a stored study: accuracy against each cost, a 3-objective view, hypervolume
history and the per-layer bit widths of the front (matplotlib, Agg; optional plotly HTML).

Every figure shows all completed trials: the study's feasible front in full colour and
labelled with trial numbers, dominated feasible trials faint, infeasible trained trials as
faint crosses and screened (never trained) trials as faint triangles at accuracy 0 with their
lower-bound costs. Full-precision reference trials (`dse search --reference-fp`: not deployable, never
on the front) are orange diamonds with their own legend entry; the non-dominated ones are labelled
'#N fp'. Budgets are dashed red lines, device capacities dotted black lines.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from dse.results.hypervolume import hypervolume_history, study_reference_point
from dse.results.front import is_feasible, is_reference, objectives_of, pareto_front, reference_front
from search_spaces.candidate import FULL_PRECISION_BITS
from search_spaces.quantizer_types import PROFILES

FORMATS = ("png", "svg")
PNG_DPI = 110
FRONT_COLOUR, INFEASIBLE_COLOUR, SCREENED_COLOUR, BUDGET_COLOUR = "#1f5fa8", "#c0392b", "#7f7f7f", "#d62728"
REFERENCE_COLOUR, REFERENCE_MARKER = "#e67e22", "D"  # fp reference trials (not deployable): orange diamonds
FAINT_ALPHA = 0.3
OFF_SCALE = 4.0  # a budget or capacity above 4 x the largest value shown is named, not drawn to scale


@dataclass(frozen=True)
class Axis:
    """How one search quantity is read from a stored cost report and shown on an axis."""

    field: str  # CostReport field (base units: mJ, bytes, s, counts)
    label: str
    scale: float  # base unit -> shown unit
    capacity_key: str | None = None  # target.capacities key for a device-capacity line
    base_unit: str = ""  # unit of the stored value (and of budgets and the hypervolume)
    unit: str = ""  # unit shown on the axis


AXES = {
    "energy": Axis("energy_mj", "energy per inference (mJ)", 1.0, base_unit="mJ", unit="mJ"),
    "memory": Axis("memory_bytes", "memory (KiB)", 1 / 1024, base_unit="B", unit="KiB"),
    "sops": Axis("sops", "synaptic operations per inference", 1.0),
    "latency": Axis("latency_s", "latency per inference (ms)", 1e3, base_unit="s", unit="ms"),
    "lut": Axis("lut", "LUT", 1.0, "lut"),
    "ff": Axis("ff", "FF", 1.0, "ff"),
    "bram": Axis("bram18", "BRAM18", 1.0, "bram18"),
    "dsp": Axis("dsp", "DSP", 1.0, "dsp"),
}
PARETO_VIEWS = ("energy", "memory", "lut", "bram")  # accuracy against each, when the target produces it


@dataclass(frozen=True)
class TrialPoint:
    """One completed trial as the plots see it."""

    number: int
    status: str  # trained | screened
    feasible: bool
    on_front: bool
    accuracy: float  # 0 for screened trials (never trained)
    cost: dict[str, Any]
    candidate: dict[str, Any]
    deployable: bool = True  # False: a full-precision reference trial (--reference-fp), never on the front
    on_reference_front: bool = False  # a reference trial no feasible trial dominates (pareto.json 'reference')

    def value(self, quantity: str) -> float | None:
        """A search quantity in its shown unit (energy mJ, memory KiB, latency ms, counts)."""
        if quantity == "accuracy":
            return self.accuracy
        axis = AXES[quantity]
        raw = self.cost.get(axis.field)
        return None if raw is None else float(raw) * axis.scale


@dataclass(frozen=True)
class StudyView:
    """What every plot and the report read from a study, gathered once."""

    name: str
    objectives: list[str]
    directions: list[str]
    budgets: dict[str, float]
    target_name: str | None
    target: Any  # cost_models Target, or None when the stored name no longer loads
    points: list[TrialPoint]
    front: list[optuna.trial.FrozenTrial]
    counts: dict[str, int]  # trained, screened, failed, running, ...
    hypervolume_reference: list[float]
    hypervolume_history: list[tuple[int, float]]
    reference: list[optuna.trial.FrozenTrial] = field(default_factory=list)  # non-dominated fp reference trials

    @property
    def front_points(self) -> list[TrialPoint]:
        order = {t.number: i for i, t in enumerate(self.front)}
        return sorted((p for p in self.points if p.on_front), key=lambda p: order[p.number])

    def budget_shown(self, quantity: str) -> float | None:
        budget = self.budgets.get(quantity)
        return None if budget is None else float(budget) * AXES[quantity].scale

    def capacity_shown(self, quantity: str) -> float | None:
        key = AXES[quantity].capacity_key
        if key is None or self.target is None or getattr(self.target, "kind", None) != "fpga":
            return None
        return float(self.target.capacities[key])

    def produces(self, quantity: str) -> bool:
        return any(p.value(quantity) is not None for p in self.points)


def study_view(study: optuna.Study) -> StudyView:
    """Gather trials, front, counts, target and hypervolume history of a dse study."""
    from cost_models.targets import TargetError, load_target

    front = pareto_front(study)
    front_numbers = {t.number for t in front}
    reference = reference_front(study)
    reference_numbers = {t.number for t in reference}
    points, counts = [], {"trained": 0, "screened": 0, "failed": 0}
    for t in study.get_trials(deepcopy=False):
        status = t.user_attrs.get("status") or t.state.name.lower()
        if t.state == optuna.trial.TrialState.FAIL:
            status = "failed"
        counts[status] = counts.get(status, 0) + 1
        if t.state != optuna.trial.TrialState.COMPLETE or status not in ("trained", "screened"):
            continue
        points.append(TrialPoint(
            number=t.number, status=status, feasible=status == "trained" and is_feasible(t),
            on_front=t.number in front_numbers,
            accuracy=float(t.user_attrs.get("accuracy", 0.0)) if status == "trained" else 0.0,
            cost=t.user_attrs.get("cost") or {}, candidate=t.user_attrs.get("candidate") or {},
            deployable=not is_reference(t), on_reference_front=t.number in reference_numbers,
        ))
    target_name = study.user_attrs.get("target")
    try:
        target = load_target(target_name) if target_name else None
    except TargetError:  # a target file that moved or changed: plots go on without capacity lines
        target = None
    hv_reference = study_reference_point(study)
    return StudyView(
        name=study.study_name, objectives=objectives_of(study), directions=[d.name.lower() for d in study.directions],
        budgets=dict(study.user_attrs.get("budgets") or {}), target_name=target_name, target=target,
        points=points, front=front, counts=counts, hypervolume_reference=hv_reference,
        hypervolume_history=hypervolume_history(study, hv_reference), reference=reference,
    )


# ---------------------------------------------------------------- figures


def _new_figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _use_log(values: list[float]) -> bool:
    positive = [v for v in values if v is not None and v > 0]
    return len(positive) >= 2 and max(positive) / min(positive) > 30


def _fmt_limit(value: float, quantity: str) -> str:
    unit = AXES[quantity].unit
    return f"{value:.3g}" + (f" {unit}" if unit else "")


def _limits(view: StudyView, quantity: str) -> list[tuple[float, str, dict[str, Any]]]:
    """The budget and device-capacity lines of one quantity: (value, label, line style)."""
    out = []
    budget = view.budget_shown(quantity)
    if budget is not None:
        out.append((budget, f"budget {_fmt_limit(budget, quantity)}", dict(color=BUDGET_COLOUR, linestyle="--")))
    capacity = view.capacity_shown(quantity)
    if capacity is not None:
        name = getattr(view.target, "name", "device")
        out.append((capacity, f"{name} capacity {capacity:,.0f}", dict(color="black", linestyle=":")))
    return out


def _axis_range(ax: Any, which: str, data: list[float], limits: list[tuple[float, str, dict[str, Any]]]) -> str:
    """Set scale and range from the data and draw limit lines; a limit far beyond the data
    (more than OFF_SCALE x its largest value) is named at the axis end instead of squashing
    the data into a corner. Returns ' (log scale)' or ''."""
    from matplotlib.ticker import NullFormatter

    shown = [v for v in data if v is not None]
    top = max(shown) if shown else None
    values = list(shown)
    off_scale = []
    for value, label, style in limits:
        if top is not None and top > 0 and value > OFF_SCALE * top:
            off_scale.append((f"{label}: beyond the axis" + (" \u2192" if which == "x" else " \u2191"), style["color"]))
            continue
        values.append(value)
        (ax.axvline if which == "x" else ax.axhline)(value, linewidth=1.2, label=label, **style)
    log = _use_log(values)
    if log:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        (ax.xaxis if which == "x" else ax.yaxis).set_minor_formatter(NullFormatter())
    if values:
        low, high = min(values), max(values)
        if log:
            low = min(v for v in values if v > 0)
            span = (low / 1.4, high * 1.4)
        else:
            pad = 0.06 * (high - low) if high > low else max(abs(high) * 0.1, 1e-9)
            span = (low - pad, high + pad)
        (ax.set_xlim if which == "x" else ax.set_ylim)(*span)
    for i, (text, colour) in enumerate(off_scale):
        x, align = (0.99, "right") if which == "x" else (0.01, "left")
        ax.text(x, 0.98 - 0.06 * i, text, transform=ax.transAxes, ha=align, va="top", fontsize=7, color=colour)
    return " (log scale)" if log else ""


def _label_points(ax: Any, points: list[tuple[float, float, str]]) -> None:
    """Trial-number labels beside their points, each moved to the first spot that overlaps no
    label placed before it (greedy, in display space; far spots get a leader line)."""
    ax.figure.canvas.draw_idle()
    to_points = 72.0 / ax.figure.dpi
    offsets = [(5, 4), (5, -12), (-5, 4), (-5, -12), (5, 15), (5, -23), (-5, 15), (-5, -23),
               (5, 26), (-5, 26), (5, -34), (-5, -34), (5, 37), (-5, 37)]
    placed: list[tuple[float, float, float, float]] = []
    for x, y, text in sorted(points):
        px, py = (v * to_points for v in ax.transData.transform((x, y)))
        width, height = 4.8 * len(text) + 2, 9.0
        choice = offsets[0]
        for dx, dy in offsets:
            left = px + dx if dx > 0 else px + dx - width
            box = (left, py + dy, left + width, py + dy + height)
            if all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in placed):
                choice = (dx, dy)
                break
        dx, dy = choice
        left = px + dx if dx > 0 else px + dx - width
        placed.append((left, py + dy, left + width, py + dy + height))
        far = abs(dy) > 12
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8, zorder=4,
                    ha="left" if dx > 0 else "right", va="bottom",
                    arrowprops=dict(arrowstyle="-", linewidth=0.5, color="0.4", shrinkA=0, shrinkB=3) if far else None)


SCREENED_LABEL = "screened (never trained; lower-bound cost), along the bottom edge"
INFEASIBLE_LABEL = "trained, infeasible (over a budget or the device)"
REFERENCE_LABEL = "fp reference, not deployable (kept off the front)"
REFERENCE_INFEASIBLE_LABEL = "fp reference, not deployable, infeasible"


def _pareto_axes(ax: Any, view: StudyView, quantity: str) -> None:
    """accuracy (y) against one cost (x): all trials, front labelled, budget and capacity lines."""
    def with_value(pts: list[TrialPoint]) -> list[TrialPoint]:
        return [p for p in pts if p.value(quantity) is not None]

    screened = with_value([p for p in view.points if p.status == "screened"])
    trained = with_value([p for p in view.points if p.status == "trained"])
    deployable = [p for p in trained if p.deployable]
    references = [p for p in trained if not p.deployable]
    front = with_value(view.front_points)
    groups = (
        (INFEASIBLE_LABEL, [p for p in deployable if not p.feasible], dict(marker="x", color=INFEASIBLE_COLOUR, alpha=FAINT_ALPHA + 0.1)),
        ("feasible, dominated", [p for p in deployable if p.feasible and not p.on_front], dict(marker="o", color=FRONT_COLOUR, alpha=FAINT_ALPHA)),
        (REFERENCE_INFEASIBLE_LABEL, [p for p in references if not p.feasible],
         dict(marker=REFERENCE_MARKER, color=REFERENCE_COLOUR, alpha=FAINT_ALPHA + 0.1)),
        (REFERENCE_LABEL, [p for p in references if p.feasible],
         dict(marker=REFERENCE_MARKER, color=REFERENCE_COLOUR, alpha=0.85, edgecolors="black")),
    )
    for label, pts, style in groups:
        if pts:
            ax.scatter([p.value(quantity) for p in pts], [p.accuracy for p in pts], s=22, label=f"{label}: {len(pts)}", linewidths=1, **style)
    if screened:  # accuracy unknown (never trained): a strip at the bottom, not a fake 0
        ax.scatter([p.value(quantity) for p in screened], [0.03] * len(screened), transform=ax.get_xaxis_transform(),
                   marker="v", s=22, color=SCREENED_COLOUR, alpha=FAINT_ALPHA + 0.1, label=f"{SCREENED_LABEL}: {len(screened)}")
    if front:
        xs = [p.value(quantity) for p in front]
        ax.scatter(xs, [p.accuracy for p in front], s=46, color=FRONT_COLOUR, edgecolors="black", linewidths=0.6,
                   zorder=3, label=f"Pareto front ({', '.join(view.objectives)}): {len(front)}")
        if view.objectives == ["accuracy", quantity]:
            steps = sorted(zip(xs, (p.accuracy for p in front)))
            ax.step([s[0] for s in steps], [s[1] for s in steps], where="post", color=FRONT_COLOUR, linewidth=1, zorder=2)
    scale = _axis_range(ax, "x", [p.value(quantity) for p in screened + trained], _limits(view, quantity))
    accuracies = [p.accuracy for p in trained]
    if accuracies:
        low, high = min(accuracies), max(accuracies)
        pad = max(high - low, 0.02)
        ax.set_ylim(max(low - 0.25 * pad, -0.02) if not screened else low - 0.35 * pad, min(high + 0.15 * pad, 1.02))
    ax.set_xlabel(AXES[quantity].label + scale)
    ax.set_ylabel("validation accuracy")
    ax.grid(True, alpha=0.25)
    labels = [(p.value(quantity), p.accuracy, f"#{p.number}") for p in front]
    labels += [(p.value(quantity), p.accuracy, f"#{p.number} fp") for p in references if p.on_reference_front]
    if labels:
        _label_points(ax, labels)
    if not view.points:
        ax.text(0.5, 0.5, "no completed trial", transform=ax.transAxes, ha="center")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def pareto_figure(view: StudyView, quantity: str) -> Any:
    """accuracy against `quantity` (energy, memory, lut, bram, ...) for every completed trial."""
    fig = _new_figure(7.0, 4.6)
    ax = fig.add_subplot()
    _pareto_axes(ax, view, quantity)
    ax.set_title(f"study {view.name}: accuracy vs {quantity}" + (f" on {view.target_name}" if view.target_name else ""), fontsize=10)
    return fig


def three_objective_figure(view: StudyView) -> Any:
    """Two costs on the axes, accuracy as colour: the study's three objectives, or energy and memory."""
    costs = [o for o in view.objectives if o != "accuracy"]
    if len(costs) < 2:
        costs = [c for c in ("energy", "memory") if view.produces(c)] or costs
        costs = (costs + [c for c in ("lut", "bram") if c not in costs])[:2]
    x_q, y_q = costs[0], costs[1]
    fig = _new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    faint = [p for p in view.points if not p.feasible and p.value(x_q) is not None and p.value(y_q) is not None]
    if faint:
        ax.scatter([p.value(x_q) for p in faint], [p.value(y_q) for p in faint], marker="x", color=SCREENED_COLOUR,
                   alpha=FAINT_ALPHA, s=20, label=f"infeasible or screened: {len(faint)}")
    feasible = [p for p in view.points if p.feasible and p.value(x_q) is not None and p.value(y_q) is not None]
    references = [p for p in feasible if not p.deployable]
    feasible = [p for p in feasible if p.deployable]
    if references:
        ax.scatter([p.value(x_q) for p in references], [p.value(y_q) for p in references], marker=REFERENCE_MARKER,
                   color=REFERENCE_COLOUR, edgecolors="black", linewidths=0.5, s=30, alpha=0.85,
                   label=f"{REFERENCE_LABEL}: {len(references)}")
    if feasible:
        colours = ax.scatter(
            [p.value(x_q) for p in feasible], [p.value(y_q) for p in feasible], c=[p.accuracy for p in feasible],
            cmap="viridis", vmin=min(p.accuracy for p in feasible), vmax=max(p.accuracy for p in feasible),
            s=[60 if p.on_front else 22 for p in feasible], edgecolors=["black" if p.on_front else "none" for p in feasible],
            alpha=[1.0 if p.on_front else 0.55 for p in feasible], label="feasible (front: black edge, labelled)",
        )
        fig.colorbar(colours, ax=ax, label="validation accuracy")
    xs = [p.value(x_q) for p in view.points if p.value(x_q) is not None]
    ys = [p.value(y_q) for p in view.points if p.value(y_q) is not None]
    x_scale = _axis_range(ax, "x", xs, [(v, f"{x_q} {label}", style) for v, label, style in _limits(view, x_q)])
    y_scale = _axis_range(ax, "y", ys, [(v, f"{y_q} {label}", style) for v, label, style in _limits(view, y_q)])
    ax.set_xlabel(AXES[x_q].label + x_scale)
    ax.set_ylabel(AXES[y_q].label + y_scale)
    _label_points(ax, [(p.value(x_q), p.value(y_q), f"#{p.number}") for p in feasible if p.on_front])
    ax.grid(True, alpha=0.25)
    ax.set_title(f"study {view.name}: accuracy (colour) vs {x_q} and {y_q}", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return fig


def reference_label(view: StudyView) -> str:
    """The hypervolume reference point in words, e.g. 'accuracy 0, energy 0.6 mJ (budget)'."""
    parts = []
    for name, ref in zip(view.objectives, view.hypervolume_reference):
        unit = AXES[name].base_unit if name in AXES else ""
        origin = "" if name == "accuracy" else (" (budget)" if name in view.budgets else " (1.1 x worst feasible)")
        parts.append(f"{name} {ref:.4g}{' ' + unit if unit else ''}{origin}")
    return ", ".join(parts)


def hypervolume_units(view: StudyView) -> str:
    return " x ".join(AXES[o].base_unit or o if o in AXES else o for o in view.objectives)


def hypervolume_figure(view: StudyView) -> Any:
    """Hypervolume of the feasible trained trials so far, against trial number."""
    fig = _new_figure(7.0, 3.6)
    ax = fig.add_subplot()
    history = view.hypervolume_history
    if history:
        numbers = [n for n, _ in history]
        values = [v for _, v in history]
        ax.step(numbers, values, where="post", color=FRONT_COLOUR)
        ax.scatter(numbers, values, s=10, color=FRONT_COLOUR)
        ax.annotate(f"{values[-1]:.4g}", (numbers[-1], values[-1]), xytext=(-4, 6), textcoords="offset points",
                    ha="right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no feasible trained trial", transform=ax.transAxes, ha="center")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number (feasible trained trials)")
    ax.set_ylabel(f"hypervolume ({hypervolume_units(view)})")
    ax.grid(True, alpha=0.25)
    ax.set_title(f"study {view.name}: hypervolume history\nreference: {reference_label(view)}", fontsize=9)
    return fig


def bit_width_table(view: StudyView) -> tuple[list[str], list[str], np.ndarray, list[str], np.ndarray]:
    """Rows (front members), weight columns, weight bits, membrane columns, membrane bits.

    Hidden layers are aligned from the input side and the readout has its own column, so
    members of different depths line up. Full precision is 32; missing or no membrane is NaN.
    """
    members = view.front_points
    depth = max((len(p.candidate.get("widths", [])) for p in members), default=0)
    weight_cols = [f"hidden {i + 1}" for i in range(depth)] + ["readout"]
    membrane_cols = [f"hidden {i + 1}" for i in range(depth)]
    weights = np.full((len(members), depth + 1), np.nan)
    membranes = np.full((len(members), depth), np.nan)
    for r, p in enumerate(members):
        wbits = list(p.candidate.get("weight_bits", []))
        for i, b in enumerate(wbits[:-1]):
            weights[r, i] = FULL_PRECISION_BITS if b is None else b
        if wbits:
            weights[r, depth] = FULL_PRECISION_BITS if wbits[-1] is None else wbits[-1]
        profile = PROFILES.get(p.candidate.get("quantizer", ""))
        if profile is None or profile.membrane_bits:
            for i, b in enumerate(p.candidate.get("membrane_bits", [])):
                membranes[r, i] = FULL_PRECISION_BITS if b is None else b
    rows = [f"#{p.number} acc {p.accuracy:.3f}" for p in members]
    return rows, weight_cols, weights, membrane_cols, membranes


def bit_width_figure(view: StudyView) -> Any:
    """Heatmaps of weight and membrane bits per layer, one row per front member."""
    from matplotlib.colors import LogNorm

    rows, wcols, weights, mcols, membranes = bit_width_table(view)
    fig = _new_figure(8.0, 1.6 + 0.38 * max(len(rows), 1))
    if not rows:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "the feasible front is empty: no bit widths to show", ha="center", transform=ax.transAxes)
        return fig
    norm = LogNorm(vmin=1, vmax=FULL_PRECISION_BITS)
    axes = fig.subplots(1, 2, width_ratios=[max(len(wcols), 1), max(len(mcols), 1)])
    image = None
    for ax, cols, data, title in ((axes[0], wcols, weights, "weight bits"), (axes[1], mcols, membranes, "membrane bits")):
        image = ax.imshow(np.ma.masked_invalid(data), cmap="viridis", norm=norm, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_title(title, fontsize=9)
        for (r, c), value in np.ndenumerate(data):
            text = "n/a" if math.isnan(value) else ("fp" if value == FULL_PRECISION_BITS else f"{value:.0f}")
            if math.isnan(value) and (title == "weight bits" or c >= _depth_of(view, r)):
                text = ""  # no such layer in this member
            ax.text(c, r, text, ha="center", va="center", fontsize=8,
                    color="white" if not math.isnan(value) and value < 8 else "black")
    fig.colorbar(image, ax=axes, label="bits (fp = 32)", shrink=0.9)
    fig.suptitle(f"study {view.name}: per-layer bit widths of the front", fontsize=10)
    return fig


def _depth_of(view: StudyView, row: int) -> int:
    return len(view.front_points[row].candidate.get("widths", []))


def cost_views(view: StudyView) -> list[str]:
    """Costs plotted against accuracy: the study's objectives, then energy, memory, LUT, BRAM if produced."""
    views = [o for o in view.objectives if o != "accuracy"]
    return views + [q for q in PARETO_VIEWS if q not in views and view.produces(q)]


def figures(view: StudyView) -> dict[str, Any]:
    """Every figure by file stem: pareto-accuracy-<cost>, pareto-3-objectives, hypervolume, bit-widths."""
    out = {f"pareto-accuracy-{q}": pareto_figure(view, q) for q in cost_views(view)}
    out["pareto-3-objectives"] = three_objective_figure(view)
    out["hypervolume"] = hypervolume_figure(view)
    out["bit-widths"] = bit_width_figure(view)
    return out


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """The figure encoded as PNG or SVG (SVG keeps text as text; no timestamps, fixed hash salt)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dse"}):
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=metadata)
    return buffer.getvalue()


def plotly_available() -> bool:
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def interactive_pareto_html(study: optuna.Study) -> str | None:
    """Optuna's plotly Pareto front as one offline HTML page (plotly.js inlined); None without plotly."""
    if not plotly_available():
        return None
    fig = optuna.visualization.plot_pareto_front(study, target_names=objectives_of(study))
    return fig.to_html(include_plotlyjs=True, full_html=True)


# ---------------------------------------------------------------- files


def output_names(view: StudyView, formats: tuple[str, ...], interactive: bool) -> list[str]:
    """The file names `write_plots` writes for this study (the stems of `figures`)."""
    stems = [f"pareto-accuracy-{q}" for q in cost_views(view)] + ["pareto-3-objectives", "hypervolume", "bit-widths"]
    names = [f"{stem}.{fmt}" for stem in stems for fmt in formats]
    return names + (["pareto-interactive.html"] if interactive else [])


def write_plots(study: optuna.Study, view: StudyView, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Render every figure into a temporary folder inside out_dir, then move each file into place.

    A failure while rendering leaves out_dir as it was (a folder created here is removed again).
    """
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dse-plot-", dir=out_dir))
    try:
        rendered = []
        for stem, fig in figures(view).items():
            for fmt in formats:
                (staging / f"{stem}.{fmt}").write_bytes(figure_bytes(fig, fmt))
                rendered.append(f"{stem}.{fmt}")
            fig.clear()
        html = interactive_pareto_html(study)
        if html is not None:
            (staging / "pareto-interactive.html").write_text(html, encoding="utf-8")
            rendered.append("pareto-interactive.html")
        written = []
        for name in rendered:
            os.replace(staging / name, out_dir / name)
            written.append(out_dir / name)
        return written
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
