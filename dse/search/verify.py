"""Front verification: retrain each member of a search's front at full fidelity over k seeds.

Short training can rank configurations wrongly (1-2 bit weights with a max|w| scale peak after a
few epochs, then fall by 10-20 points), so the front found at the study's fidelity is re-measured:
each member is retrained from scratch for `epochs` (default: VERIFY_EPOCHS, or the study's
epochs when larger) with k new seeds, re-measured (accuracy and spikes) and re-costed. A member
whose mean values are dominated by another verified member's, or whose costs break a budget or
capacity with some seed, is flagged; the verified front is the rest (dse/results/front.py shows it by
default). Finished trials cannot take new user attributes in Optuna 5 (the storage refuses
updates to finished trials), so each record is a study user attribute 'verification:<trial>', and
a flagged member stays in Optuna's study.best_trials (and optuna-dashboard's view): those show the
search's front, pareto.json both ('search_front', 'front', 'flagged'; docs/search.md).
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any, Callable

import optuna

from dse.results.verification import RECORD_PREFIX, SUMMARY_ATTR, VerifiedMember, flag_dominated

VERIFY_SEEDS = 3
VERIFY_EPOCHS = 30  # digits: 1-2 bit max|w| runs settle after 10-30 epochs (stack-notes.md)
SEED_STRIDE = 1_000_003  # verification seed k of trial n: study seed * 100003 + n + SEED_STRIDE * k, k = 1..K


def verification_epochs(study_epochs: int) -> int:
    """Full fidelity: VERIFY_EPOCHS, or the study's own epochs when it trained longer."""
    return max(VERIFY_EPOCHS, study_epochs)


def verify_member(
    trial: optuna.trial.FrozenTrial, settings: Any, data: Any, device: Any, seeds: int, epochs: int
) -> VerifiedMember:
    """Retrain one trial's Candidate `seeds` times for `epochs` epochs; re-measure and re-cost each run."""
    from cost_models.report import QUANTITY_FIELDS, evaluate, quantity
    from cost_models.screen import constraint_values, violation_lines
    from dse.search.runner import candidate_of
    from dse.training.train import train_candidate

    candidate = candidate_of(trial)
    fidelity = replace(settings.fidelity, epochs=epochs)
    seed_list = tuple(settings.seed * 100003 + trial.number + SEED_STRIDE * k for k in range(1, seeds + 1))
    per_seed: list[dict[str, float]] = []
    costs: list[dict[str, float]] = []
    violations: list[str] = []
    accuracies: list[float] = []
    seconds = 0.0
    for seed in seed_list:
        result = train_candidate(candidate, data, fidelity, seed=seed, device=device)
        report = evaluate(candidate, settings.target, result.activity)
        accuracies.append(result.accuracy)
        seconds += result.train_seconds
        per_seed.append({o: result.accuracy if o == "accuracy" else float(quantity(report, o)) for o in settings.objectives})
        costs.append({f: float(quantity(report, q)) for q, f in QUANTITY_FIELDS.items() if quantity(report, q) is not None})
        constraints = constraint_values(report, settings.target, settings.budgets)
        violations += [f"seed {seed}: {line}" for line in violation_lines(report, settings.target, settings.budgets, constraints)]
    mean = {o: statistics.fmean(v[o] for v in per_seed) for o in settings.objectives}
    std = {o: statistics.stdev(v[o] for v in per_seed) if len(per_seed) > 1 else 0.0 for o in settings.objectives}
    cost_mean = {f: statistics.fmean(c[f] for c in costs) for f in costs[0]}
    return VerifiedMember(trial.number, epochs, seed_list, tuple(accuracies), mean, std, cost_mean,
                          not violations, tuple(violations), seconds)


def verify_front(
    study: optuna.Study, settings: Any, data: Any, device: Any, seeds: int = VERIFY_SEEDS, epochs: int | None = None,
    on_member: Callable[[VerifiedMember], None] | None = None,
) -> list[VerifiedMember]:
    """Retrain every member of the study's short-fidelity front over `seeds` seeds, store each record
    in the study as it finishes, and return the records flagged against each other."""
    from dse.errors import UserError
    from dse.results.front import pareto_front

    epochs = verification_epochs(settings.fidelity.epochs) if epochs is None else epochs
    if seeds < 1:
        raise UserError(f"verification needs at least 1 seed, got {seeds}")
    if epochs < 1:
        raise UserError(f"verification needs at least 1 epoch, got {epochs}")
    members = []
    stored = study.user_attrs
    for trial in pareto_front(study, verified=False):
        record = stored.get(RECORD_PREFIX + str(trial.number))
        if record and record.get("epochs") == epochs and len(record.get("seeds", ())) == seeds:
            member = VerifiedMember.from_dict(record)  # verified by an earlier run: resuming costs nothing
        else:
            member = verify_member(trial, settings, data, device, seeds, epochs)
            study.set_user_attr(RECORD_PREFIX + str(trial.number), member.to_dict())
        members.append(member)
        if on_member is not None:
            on_member(member)
    members = flag_dominated(members, settings.objectives)
    study.set_user_attr(SUMMARY_ATTR, {
        "epochs": epochs, "seeds": seeds, "trials": [m.trial for m in members],
        "flagged": [m.trial for m in members if m.flagged],
    })
    return members
