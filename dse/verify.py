"""Front verification: retrain each member of a search's front at full fidelity over k seeds.

Short training can rank configurations wrongly (1-2 bit weights with a max|w| scale peak after a
few epochs, then fall by 10-20 points), so the front found at the study's fidelity is re-measured:
each member is retrained from scratch for `epochs` (default: VERIFY_EPOCHS, or the study's
epochs when larger) with k new seeds, re-measured (accuracy and spikes) and re-costed. A member
whose mean values are dominated by another verified member's, or whose costs break a budget or
capacity with some seed, is flagged; the verified front is the rest (dse/results.py shows it by
default). Finished trials cannot take new user attributes in Optuna 5 (the storage refuses
updates to finished trials), so each record is a study user attribute 'verification:<trial>'.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Collection, Sequence

import optuna

VERIFY_SEEDS = 3
VERIFY_EPOCHS = 30  # digits: 1-2 bit max|w| runs settle after 10-30 epochs (stack-notes.md)
RECORD_PREFIX = "verification:"
SUMMARY_ATTR = "verification"
VERIFIED_ATTRS = (  # what a verified front member carries in results (VerifiedMember.user_attrs)
    "verified_accuracy_mean", "verified_accuracy_std", "verified_seeds", "verified_epochs", "verified_values",
    "verified_values_std", "verified_cost", "verified_feasible", "verified_violations", "verified_dominated_by",
)
SEED_STRIDE = 1_000_003  # verification seed k of trial n: study seed * 100003 + n + SEED_STRIDE * k, k = 1..K


@dataclass(frozen=True)
class VerifiedMember:
    """One front member retrained over seeds: per-seed accuracy, mean and spread of every objective."""

    trial: int
    epochs: int
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]
    values_mean: dict[str, float]  # every objective, mean over seeds (costs re-measured from each seed's spikes)
    values_std: dict[str, float]  # sample standard deviation over seeds (0 for one seed)
    cost_mean: dict[str, float]  # mean over seeds of the cost report's totals (energy_mj, sops, ...)
    feasible: bool  # every seed's costs within the budgets and device capacities
    violations: tuple[str, ...] = ()
    train_seconds: float = 0.0
    dominated_by: tuple[int, ...] = field(default=())  # verified, feasible members whose means dominate this one

    @property
    def accuracy_mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def accuracy_std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def flagged(self) -> bool:
        return bool(self.dominated_by) or not self.feasible

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("dominated_by")  # recomputed on read: it depends on which members were verified
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerifiedMember":
        fields_ = {**data, "seeds": tuple(data["seeds"]), "accuracies": tuple(data["accuracies"]),
                   "violations": tuple(data.get("violations", ()))}
        fields_.pop("dominated_by", None)
        return cls(**fields_)

    def user_attrs(self) -> dict[str, Any]:
        """The verified_* attributes a front member carries in results (tables, pareto.json)."""
        return {
            "verified_accuracy_mean": self.accuracy_mean,
            "verified_accuracy_std": self.accuracy_std,
            "verified_seeds": list(self.seeds),
            "verified_epochs": self.epochs,
            "verified_values": self.values_mean,
            "verified_values_std": self.values_std,
            "verified_cost": self.cost_mean,
            "verified_feasible": self.feasible,
            "verified_violations": list(self.violations),
            "verified_dominated_by": list(self.dominated_by),
        }


def verification_epochs(study_epochs: int) -> int:
    """Full fidelity: VERIFY_EPOCHS, or the study's own epochs when it trained longer."""
    return max(VERIFY_EPOCHS, study_epochs)


def dominates(a: dict[str, float], b: dict[str, float], objectives: Sequence[str]) -> bool:
    """a is no worse than b in every objective and better in one (accuracy up, costs down)."""
    sign = {o: (-1.0 if o == "accuracy" else 1.0) for o in objectives}
    no_worse = all(sign[o] * a[o] <= sign[o] * b[o] for o in objectives)
    return no_worse and any(sign[o] * a[o] < sign[o] * b[o] for o in objectives)


def flag_dominated(members: Sequence[VerifiedMember], objectives: Sequence[str]) -> list[VerifiedMember]:
    """Each member with dominated_by set to the feasible members whose mean values dominate its own."""
    feasible = [m for m in members if m.feasible]
    return [
        replace(m, dominated_by=tuple(o.trial for o in feasible
                                      if o.trial != m.trial and dominates(o.values_mean, m.values_mean, objectives)))
        for m in members
    ]


def stored_verifications(study: optuna.Study, trials: Collection[int] | None = None) -> dict[int, VerifiedMember]:
    """The verification records a study holds (of `trials` only, when given), flagged against each
    other, by trial number."""
    attrs = study.user_attrs
    members = [VerifiedMember.from_dict(v) for k, v in attrs.items() if k.startswith(RECORD_PREFIX)]
    if trials is not None:
        members = [m for m in members if m.trial in trials]
    objectives = list(attrs.get("dse", {}).get("objectives", ["accuracy", "energy"]))
    return {m.trial: m for m in flag_dominated(members, objectives)}


def verify_member(
    trial: optuna.trial.FrozenTrial, settings: Any, data: Any, device: Any, seeds: int, epochs: int
) -> VerifiedMember:
    """Retrain one trial's Candidate `seeds` times for `epochs` epochs; re-measure and re-cost each run."""
    # imported here: dse.results reads stored records through this module and must not load torch
    from cost_models.report import QUANTITY_FIELDS, evaluate, quantity
    from cost_models.screen import constraint_values, violation_lines
    from dse.search import candidate_of
    from dse.train import train_candidate

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
    from dse.results import pareto_front

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
