"""Screening before training: the lower-bound report against budgets and device capacities.

Constraint values follow Optuna's convention (trial.set_constraint): <= 0 is feasible. A budget
gives (value - limit) / limit; an FPGA target adds (used - capacity) / capacity per resource.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from cost_models.report import (
    DYNAMIC_QUANTITIES,
    QUANTITY_FIELDS,
    QUANTITY_UNITS,
    CostReport,
    evaluate,
    quantity,
)
from cost_models.targets import Target, load_target
from search_spaces.candidate import Candidate

# capacity constraint name -> (quantity, Target.capacities key)
CAPACITY_CONSTRAINTS = {
    "lut_capacity": ("lut", "lut"),
    "ff_capacity": ("ff", "ff"),
    "bram_capacity": ("bram", "bram18"),
    "dsp_capacity": ("dsp", "dsp"),
}


@dataclass(frozen=True)
class ScreenResult:
    """Outcome of screening one candidate: report, constraint values, verdict, reasons."""

    report: CostReport
    constraints: dict[str, float]
    feasible: bool
    violations: list[str]


def check_budgets(target: Target, budgets: dict[str, float]) -> None:
    """Refuse unknown quantities, non-positive limits and quantities the target cannot give."""
    for name, limit in budgets.items():
        if name not in QUANTITY_FIELDS:
            raise ValueError(f"unknown budget {name!r}; accepted: {', '.join(QUANTITY_FIELDS)}")
        if not target.produces(name):
            raise ValueError(f"target {target.name!r} ({target.kind}) produces no {name!r}; drop that budget")
        if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not limit > 0:
            raise ValueError(f"budget {name!r} must be a positive number, got {limit!r}")


def constraint_values(report: CostReport, target: Target, budgets: dict[str, float]) -> dict[str, float]:
    """Budgets first (in the budgets' order), then FPGA capacities; <= 0 is feasible."""
    check_budgets(target, budgets)
    out: dict[str, float] = {}
    for name, limit in budgets.items():
        out[name] = (float(quantity(report, name)) - limit) / limit
    if target.kind == "fpga":
        for cname, (qname, cap_key) in CAPACITY_CONSTRAINTS.items():
            cap = target.capacities[cap_key]
            out[cname] = (float(quantity(report, qname)) - cap) / cap
    return out


def violation_lines(
    report: CostReport, target: Target, budgets: dict[str, float], constraints: dict[str, float]
) -> list[str]:
    """Human lines for the violated constraints, e.g. 'energy >= 0.81 mJ > budget 0.6 mJ'."""
    lines = []
    for name, value in constraints.items():
        if value <= 0:
            continue
        if name in budgets:
            rel = ">=" if (report.lower_bound and name in DYNAMIC_QUANTITIES) else "="
            got = format_quantity(name, quantity(report, name))
            lines.append(f"{name} {rel} {got} > budget {format_quantity(name, budgets[name])}")
        else:
            qname, cap_key = CAPACITY_CONSTRAINTS[name]
            lines.append(
                f"{qname} = {quantity(report, qname):,} > capacity {target.capacities[cap_key]:,} "
                f"of {target.name}"
            )
    return lines


def screen(candidate: Candidate, target: Target | str, budgets: dict[str, float]) -> ScreenResult:
    """Everything decidable without training: lower-bound report vs budgets and capacities."""
    if isinstance(target, str):
        target = load_target(target)
    check_budgets(target, budgets)
    report = evaluate(candidate, target, None)
    constraints = constraint_values(report, target, budgets)
    violations = violation_lines(report, target, budgets, constraints)
    return ScreenResult(report, constraints, not violations, violations)


def format_quantity(name: str, value: float | int | None) -> str:
    """Value with its unit: '0.81 mJ', '70.1 KiB', '331 us', '12,345'."""
    if value is None:
        return "n/a"
    unit = QUANTITY_UNITS.get(name)
    if name == "memory":
        v = float(value)
        for suffix, scale in (("MiB", 2**20), ("KiB", 2**10)):
            if v >= scale:
                return f"{v / scale:.3g} {suffix}"
        return f"{v:.4g} B"
    if name == "latency":
        v = float(value)
        for suffix, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
            if v >= scale:
                return f"{v / scale:.3g} {suffix}"
        return f"{v / 1e-9:.3g} ns"
    if unit:
        return f"{float(value):.3g} {unit}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"
