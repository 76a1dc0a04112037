"""Verification records: what dse/search/verify.py stores per front member (a study user attribute
'verification:<trial>') and how results read them back, flagged against each other.

Torch-free and free of the search, so the results (front, plots, report) read the records without
importing what produced them.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Collection, Sequence

import optuna

RECORD_PREFIX = "verification:"
SUMMARY_ATTR = "verification"
VERIFIED_ATTRS = (  # what a verified front member carries in results (VerifiedMember.user_attrs)
    "verified_accuracy_mean", "verified_accuracy_std", "verified_seeds", "verified_epochs", "verified_values",
    "verified_values_std", "verified_cost", "verified_feasible", "verified_violations", "verified_dominated_by",
)


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
