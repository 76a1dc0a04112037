"""Results of a study: the Pareto front of feasible trials as table rows, pareto.json and trials.csv.

The front is the deployable front: trials marked `deployable: false` (full-precision reference points
searched with `dse search --reference-fp`) never enter it and never push a deployable trial off it;
those of them that no feasible trial dominates are listed apart (`reference_front`, pareto.json's
'reference').

Optuna sees the same front: in studies dse creates (user attr MARKS_ATTR), the runner also marks every
trial with the constraints `stopped_early` and `not_deployable` (1.0 = violated, 0.0 = not), so
`study.best_trials`, which honours constraints, leaves stopped and reference trials out exactly as
`pareto_front(study, verified=False)` does (docs/search.md, "What Optuna and optuna-dashboard see")."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

import moocore
import numpy as np
import optuna

from dse.results.neurobench_metrics import NOTE as NEUROBENCH_NOTE, stored_records
from dse.results.verification import VERIFIED_ATTRS, stored_verifications
from dse.files import write_text
from search_spaces.candidate import bits_label, membrane_label

TABLE_COLUMNS = (
    "trial", "accuracy", "energy_mj", "memory_kib", "sops", "lut", "bram18", "T",
    "quantizer", "weight_bits", "membrane_bits", "architecture",
)


# Constraints that mark a trial kind rather than a budget or capacity (positive = violated, Optuna's convention):
# the runner sets both, 0.0 or 1.0, on every completed trial of a study that carries MARKS_ATTR.
STOPPED_EARLY = "stopped_early"  # 1.0: stopped by early stopping (status 'stopped'): not fully trained
NOT_DEPLOYABLE = "not_deployable"  # 1.0: an fp reference point (deployable false, dse search --reference-fp)
MARKS = (STOPPED_EARLY, NOT_DEPLOYABLE)
MARKS_ATTR = "constraint_marks"  # study user attr: the marks its trials carry; absent in studies made before them


def mark_constraints(stopped: bool, deployable: bool) -> dict[str, float]:
    """The mark constraints of one trial, in MARKS order (every trial of a study gets the same keys)."""
    return {STOPPED_EARLY: 1.0 if stopped else 0.0, NOT_DEPLOYABLE: 0.0 if deployable else 1.0}


def marks_trials(study: optuna.Study) -> bool:
    """Whether the study's trials carry the mark constraints (studies dse created since they exist)."""
    return MARKS_ATTR in study.user_attrs


def is_reference(trial: optuna.trial.FrozenTrial) -> bool:
    """A full-precision reference point (dse search --reference-fp): searched, but not deployable."""
    return trial.user_attrs.get("deployable") is False


def _non_dominated(
    trials: list[optuna.trial.FrozenTrial], directions: list[Any],
    feasible_if: Callable[[optuna.trial.FrozenTrial], bool] | None = None,
) -> list[optuna.trial.FrozenTrial]:
    """The feasible trials no other feasible one dominates, in trial order (Optuna's best_trials rule:
    every constraint value <= 0 counts as feasible, mark constraints included, equal values do not
    dominate each other); `feasible_if` replaces the feasibility test."""
    feasible_if = feasible_if or _satisfies_all
    feasible = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.values is not None and feasible_if(t)]
    if not feasible:
        return []
    maximise = [d == optuna.study.StudyDirection.MAXIMIZE for d in directions]
    # keep_weakly: equal values do not dominate each other, as in Optuna's best_trials
    keep = moocore.is_nondominated(np.array([t.values for t in feasible], dtype=float), maximise=maximise,
                                   keep_weakly=True)
    return [t for t, kept in zip(feasible, keep) if kept]


def pareto_front(study: optuna.Study, verified: bool = True) -> list[optuna.trial.FrozenTrial]:
    """Feasible, completed, fully trained, non-dominated deployable trials (constraints honoured as in
    Optuna's best_trials; non-deployable fp reference trials are left out before dominance is decided).
    With verified=False and a study whose trials carry the mark constraints, the same trials as Optuna's
    `study.best_trials` (tests/test_dashboard_view.py).

    verified=True: members retrained by dse/verify.py carry their verified_* attributes and those
    flagged after verification (dominated or over budget) are left out; False: the search's own front.
    """
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    deployable = [t for t in trials if not is_reference(t)]
    front = [t for t in _non_dominated(deployable, study.directions) if t.user_attrs.get("status") == "trained"]
    if verified:
        front = [t for t in with_verification(study, front) if not is_flagged(t)]
    return sorted(front, key=lambda t: -t.user_attrs.get("verified_accuracy_mean", t.user_attrs.get("accuracy", 0.0)))


def reference_front(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trained fp reference trials that no feasible trial (deployable or not) dominates, best accuracy first.
    Feasible here: within the budgets and capacities (the mark constraints are not looked at)."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    front = [t for t in _non_dominated(trials, study.directions, is_feasible) if is_reference(t) and t.user_attrs.get("status") == "trained"]
    return sorted(front, key=lambda t: -t.user_attrs.get("accuracy", 0.0))


def with_verification(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Copies of the trials with the verified_* attributes of their verification records, where any."""
    records = stored_verifications(study, {t.number for t in trials})
    out = []
    for t in trials:
        if t.number in records:
            t = copy.copy(t)
            t.user_attrs = {**t.user_attrs, **records[t.number].user_attrs()}
        out.append(t)
    return out


def is_flagged(trial: optuna.trial.FrozenTrial) -> bool:
    """Dominated by another verified member, or over a budget/capacity, after verification."""
    attrs = trial.user_attrs
    return bool(attrs.get("verified_dominated_by")) or attrs.get("verified_feasible") is False


def flagged_members(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Members of the search's front that verification flagged, with their verified_* attributes."""
    return [t for t in with_verification(study, pareto_front(study, verified=False)) if is_flagged(t)]


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Within every budget and capacity: their constraint values <= 0 (Optuna's convention); a trial with
    none set counts as feasible. The mark constraints (stopped_early, not_deployable) say what kind of
    trial it is, not whether it fits, and are not looked at: trials.csv's 'feasible', plots and hypervolume."""
    constraints = trial.constraints or {}
    if not isinstance(constraints, dict):
        return all(c <= 0 for c in constraints)
    return all(c <= 0 for key, c in constraints.items() if key not in MARKS)


def _satisfies_all(trial: optuna.trial.FrozenTrial) -> bool:
    """Optuna's feasibility (best_trials, samplers): every constraint value <= 0, mark constraints included."""
    constraints = trial.constraints or {}
    values = constraints.values() if isinstance(constraints, dict) else constraints
    return all(c <= 0 for c in values)


def objectives_of(study: optuna.Study) -> list[str]:
    return list(study.user_attrs.get("dse", {}).get("objectives", ["accuracy", "energy"]))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One table row: the figures a user compares, plus the per-layer bit widths."""
    cand = trial.user_attrs.get("candidate", {})
    cost = trial.user_attrs.get("cost", {})
    totals = trial.user_attrs.get("verified_cost") or cost  # verified: means over the retraining seeds
    arch = "-".join(str(w) for w in cand.get("widths", []))
    memory = totals.get("memory_bytes")
    return {
        "trial": trial.number,
        "accuracy": _accuracy(trial.user_attrs),
        "energy_mj": totals.get("energy_mj"),
        "memory_kib": None if memory is None else memory / 1024,
        "sops": totals.get("sops"),
        "lut": totals.get("lut"),
        "bram18": totals.get("bram18"),
        "T": cand.get("timesteps"),
        "quantizer": _quantizer_label(cand),
        "weight_bits": ",".join(bits_label(b) for b in cand.get("weight_bits", [])),
        "membrane_bits": membrane_label(cand.get("quantizer", ""), cand.get("membrane_bits", [])),
        "architecture": f"{cand.get('family', '?')} {arch}",
    }


def _accuracy(attrs: dict[str, Any]) -> float | str | None:
    """The search's accuracy, or 'mean ± std' over the verification seeds."""
    if "verified_accuracy_mean" not in attrs:
        return attrs.get("accuracy")
    return f"{attrs['verified_accuracy_mean']:.4f} ± {attrs['verified_accuracy_std']:.4f}"


def _quantizer_label(cand: dict[str, Any]) -> str:
    options = cand.get("quantizer_options") or {}
    extra = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
    return f"{cand.get('quantizer', '?')}" + (f"({extra})" if extra else "")


def format_row(row: dict[str, Any]) -> list[str]:
    return [_fmt(row[c]) for c in TABLE_COLUMNS]


def front_document(study: optuna.Study, storage_url: str, verified: bool = True) -> dict[str, Any]:
    """The content of pareto.json: settings and every front member with Candidate and cost report;
    verified (the default): the verified front, with the members verification flagged listed apart.
    'search_front' names the search's own front in trial order, before verification: the trials of
    Optuna's study.best_trials where the study's trials carry the mark constraints ('optuna_marks')."""
    front = pareto_front(study, verified)
    neurobench = stored_records(study, (t.number for t in front))
    return {
        "study": study.study_name,
        "storage": storage_url,
        "target": study.user_attrs.get("target"),
        "budgets": study.user_attrs.get("budgets", {}),
        "objectives": objectives_of(study),
        "metric_names": study.metric_names,  # Optuna's names of the values (optuna-dashboard's axes)
        "n_trials": len(study.trials),
        "search_front": sorted(t.number for t in pareto_front(study, verified=False)),
        "optuna_marks": marks_trials(study),
        "front": [
            {
                "trial": t.number,
                "values": dict(zip(objectives_of(study), t.values)),
                "accuracy": t.user_attrs.get("accuracy"),
                "firing_rates": t.user_attrs.get("firing_rates"),
                "train_seconds": t.user_attrs.get("train_seconds"),
                "epochs": t.user_attrs.get("epochs"),
                "candidate": t.user_attrs.get("candidate"),
                "cost": t.user_attrs.get("cost"),
                **{k: t.user_attrs[k] for k in VERIFIED_ATTRS if k in t.user_attrs},
                # NeuroBench's figures and the project's counts on the test split (None: not measured; NEUROBENCH_NOTE)
                "neurobench": neurobench.get(t.number),
            }
            for t in front
        ],
        "neurobench_note": NEUROBENCH_NOTE,
        "reference": [  # fp reference points (--reference-fp): not deployable, never on the front above
            {
                "trial": t.number, "deployable": False,
                "values": dict(zip(objectives_of(study), t.values)),
                "accuracy": t.user_attrs.get("accuracy"),
                "candidate": t.user_attrs.get("candidate"),
                "cost": t.user_attrs.get("cost"),
            }
            for t in reference_front(study)
        ],
        "verification": study.user_attrs.get("verification") if verified else None,
        "flagged": [
            {"trial": t.number, "values": dict(zip(objectives_of(study), t.values)), "candidate": t.user_attrs.get("candidate"),
             **{k: t.user_attrs[k] for k in VERIFIED_ATTRS}}
            for t in (flagged_members(study) if verified else [])
        ],
    }


def trials_csv(study: optuna.Study) -> str:
    """Every trial as one CSV line: state, status, feasibility, figures and the Candidate summary."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["trial", "state", "status", "feasible", *TABLE_COLUMNS[1:], "summary", "reason", "duration_s", "deployable"]
    writer.writerow(header)
    for t in study.get_trials(deepcopy=False):
        row = trial_row(t)
        feasible = "" if t.state != optuna.trial.TrialState.COMPLETE else str(is_feasible(t))
        reason = "; ".join(t.user_attrs.get("violations", [])) or t.user_attrs.get("fail_reason") or t.user_attrs.get("stop_reason", "")
        duration = t.duration.total_seconds() if t.duration else ""
        writer.writerow([
            t.number, t.state.name, t.user_attrs.get("status", ""), feasible,
            *[row[c] if row[c] is not None else "" for c in TABLE_COLUMNS[1:]],
            t.user_attrs.get("summary", ""), reason, duration,
            "" if "deployable" not in t.user_attrs else str(bool(t.user_attrs["deployable"])),
        ])
    return buffer.getvalue()


def write_results(study: optuna.Study, storage_url: str, out_dir: Path) -> tuple[Path, Path]:
    """Write out_dir/pareto.json and out_dir/trials.csv."""
    pareto_path, csv_path = out_dir / "pareto.json", out_dir / "trials.csv"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(pareto_path, json.dumps(front_document(study, storage_url), indent=2))
    write_text(csv_path, trials_csv(study))
    return pareto_path, csv_path
