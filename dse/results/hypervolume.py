"""The project's one hypervolume: the volume of objective space that a set of trials dominates.

Computed by moocore.hypervolume (exact, O(n log n) in 2-D and 3-D). Maximised objectives
(accuracy) and minimised ones (energy, memory, LUT, ...) are handled alike by moocore's
`maximise` flags, so values stay in the objectives' own units (e.g. accuracy x mJ).

Reference point rule (`reference_point`), fixed per study so histories and samplers compare:
- a maximised objective (accuracy): 0;
- a minimised objective with a budget: the budget (the largest feasible value);
- a minimised objective without a budget: 1.1 x the worst (largest) feasible value seen,
  or 1.0 when no feasible trial exists yet.
A point contributes only where it strictly beats the reference on every objective.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

UNBUDGETED_MARGIN = 1.1  # reference = 1.1 x worst feasible value for a cost without a budget
MAXIMISE_REFERENCE = 0.0  # reference for maximised objectives (accuracy)


def _maximise_flags(directions: Sequence[str]) -> list[bool]:
    flags = []
    for d in directions:
        name = str(getattr(d, "name", d)).lower()
        if name not in ("maximize", "minimize", "maximise", "minimise"):
            raise ValueError(f"unknown direction {d!r}; accepted: maximize, minimize")
        flags.append(name.startswith("max"))
    return flags


def hypervolume(points: Any, directions: Sequence[str], reference: Sequence[float]) -> float:
    """Hypervolume of `points` (n x m) against `reference` (m), with per-objective directions.

    directions: 'maximize' or 'minimize' per column (optuna.study.StudyDirection works too).
    Points that do not strictly beat the reference on every objective add nothing; no points: 0.
    """
    import moocore

    flags = _maximise_flags(directions)
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if ref.size != len(flags):
        raise ValueError(f"reference has {ref.size} values for {len(flags)} objectives")
    pts = np.asarray(points, dtype=float)
    if pts.size == 0:
        return 0.0
    pts = pts.reshape(-1, len(flags))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    # keep strict improvers only: moocore ignores the others too, this just avoids empty arrays
    better = np.where(flags, pts > ref, pts < ref)
    pts = pts[np.all(better, axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(moocore.hypervolume(pts, ref=ref, maximise=flags))


def reference_point(
    objectives: Sequence[str],
    directions: Sequence[str],
    budgets: Mapping[str, float],
    feasible_points: Any,
) -> list[float]:
    """The documented reference point: 0 for maximised, the budget or 1.1 x worst feasible for costs.

    objectives: the study's objective names ('accuracy', 'energy', 'memory', ...), whose values
    and budgets share base units (mJ, bytes, counts).
    """
    flags = _maximise_flags(directions)
    pts = np.asarray(feasible_points, dtype=float)
    pts = pts.reshape(-1, len(flags)) if pts.size else np.empty((0, len(flags)))
    ref = []
    for i, (name, maximise) in enumerate(zip(objectives, flags)):
        if maximise:
            ref.append(MAXIMISE_REFERENCE)
        elif name in budgets and budgets[name] is not None:
            ref.append(float(budgets[name]))
        else:
            column = pts[:, i][np.isfinite(pts[:, i])] if len(pts) else np.empty(0)
            ref.append(UNBUDGETED_MARGIN * float(column.max()) if column.size and column.max() > 0 else 1.0)
    return ref


def study_points(study: Any) -> tuple[list[int], np.ndarray]:
    """Trial numbers and objective values of a study's feasible trained trials, in trial order."""
    import optuna

    from dse.results.front import is_feasible

    numbers, values = [], []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("status") == "trained" and is_feasible(t) and t.values is not None:
            numbers.append(t.number)
            values.append(list(t.values))
    width = len(study.directions)
    return numbers, np.asarray(values, dtype=float).reshape(-1, width)


def study_reference_point(study: Any, points: Any = None) -> list[float]:
    """reference_point for a dse study, from its stored objectives, budgets and feasible trials
    (`points`: those trials' values when the caller has already read them)."""
    from dse.results.front import objectives_of

    pts = study_points(study)[1] if points is None else points
    return reference_point(objectives_of(study), [d.name for d in study.directions], study.user_attrs.get("budgets", {}), pts)


def study_hypervolume(study: Any) -> float:
    """Hypervolume of all the study's feasible trained trials against study_reference_point (the
    last entry of hypervolume_history, without computing the history)."""
    _, pts = study_points(study)
    return hypervolume(pts, [d.name for d in study.directions], study_reference_point(study, pts))


def hypervolume_history(study: Any, reference: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """(trial number, hypervolume of the feasible trained trials up to it), one entry per such trial.

    The reference defaults to study_reference_point(study), computed once over the whole study,
    so every entry uses the same reference and the history never decreases.
    """
    numbers, pts = study_points(study)
    ref = list(reference) if reference is not None else study_reference_point(study, pts)
    directions = [d.name for d in study.directions]
    return [(n, hypervolume(pts[: i + 1], directions, ref)) for i, n in enumerate(numbers)]
