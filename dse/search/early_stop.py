"""Early stopping for a multi-objective study, where Optuna's pruners do not apply.

The rule (docs/search.md): after epoch e of a checkpoint, stop a trial when some completed,
feasible, fully trained trial C is at least as cheap in every cost objective as this trial can
possibly be (C's measured costs <= this trial's screening lower bound, exact for static costs)
and C's accuracy from epoch e to its end never fell below this trial's accuracy at epoch e plus
MARGIN. A stopped trial stays COMPLETE with what it measured at the stopping epoch (status
"stopped"): those values are dominated by C, so it never enters the front, and the sampler
learns that its region is poor. The runner also gives it the constraint `stopped_early` = 1.0
(0.0 on every other trial; dse.results.front.MARKS) before the trial finishes, so Optuna's
best_trials and samplers treat it as infeasible rather than relying on that dominance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import optuna
import torch
from spikingjelly.activation_based import functional

from dse.training.data import Split
from dse.training.train import StopTraining, TrainResult

MARGIN = 0.02  # accuracy points (fraction) a reference must lead by; about 4x the seed-to-seed spread at full fidelity
FIRST_CHECKPOINT = 2  # first epoch checked; 1 saved more time on the benchmark but is the noisiest (docs/search.md)
CURVE_ATTR = "accuracy_by_epoch"  # trial user attr: {"epoch": validation accuracy}, checkpoints and the last epoch


def checkpoint_epochs(total_epochs: int, first: int | None = None) -> tuple[int, ...]:
    """Epochs after which a trial is checked: `first` (default FIRST_CHECKPOINT), then doubling,
    all before the last epoch."""
    epochs = []
    e = FIRST_CHECKPOINT if first is None else first
    while e < total_epochs:
        epochs.append(e)
        e *= 2
    return tuple(epochs)


@dataclass(frozen=True)
class Reference:
    """A completed, feasible, fully trained trial: its measured costs and accuracy curve."""

    number: int
    costs: tuple[float, ...]
    accuracy_by_epoch: dict[int, float]

    def accuracy_from(self, epoch: int) -> float | None:
        """The worst accuracy it measured at `epoch` or later; None when `epoch` was not measured."""
        if epoch not in self.accuracy_by_epoch:
            return None
        return min(a for e, a in self.accuracy_by_epoch.items() if e >= epoch)


def cost_objectives(objectives: Sequence[str]) -> list[str]:
    return [o for o in objectives if o != "accuracy"]


def references(trials: Iterable[optuna.trial.FrozenTrial], objectives: Sequence[str]) -> list[Reference]:
    """The trials a running trial may be compared with: COMPLETE, status trained, feasible, with a curve."""
    costs_at = [i for i, o in enumerate(objectives) if o != "accuracy"]
    refs = []
    for t in trials:
        curve = t.user_attrs.get(CURVE_ATTR)
        if t.state != optuna.trial.TrialState.COMPLETE or t.user_attrs.get("status") != "trained" or not curve:
            continue
        constraints = t.constraints or {}
        values = constraints.values() if isinstance(constraints, dict) else constraints
        if any(c > 0 for c in values):
            continue
        refs.append(Reference(t.number, tuple(t.values[i] for i in costs_at), {int(e): a for e, a in curve.items()}))
    return refs


def dominating_reference(
    refs: Sequence[Reference], cost_lower_bounds: Sequence[float], epoch: int, accuracy: float, margin: float = MARGIN
) -> Reference | None:
    """The reference that beats this trial at `epoch` by more than `margin` at no higher cost, if any."""
    best: Reference | None = None
    best_lead = margin
    for ref in refs:
        if not all(c <= lb for c, lb in zip(ref.costs, cost_lower_bounds, strict=True)):
            continue
        reached = ref.accuracy_from(epoch)
        if reached is not None and reached - accuracy > best_lead:
            best, best_lead = ref, reached - accuracy
    return best


@torch.no_grad()
def validation_accuracy(model: torch.nn.Module, split: Split, batch_size: int = 256) -> float:
    """Fraction of split classified right by the time-averaged readout; leaves the model in eval mode."""
    model.eval()
    correct = 0
    for i in range(0, len(split), batch_size):
        logits = model(split.x[i : i + batch_size]).mean(0)
        correct += int((logits.argmax(1) == split.y[i : i + batch_size]).sum())
        functional.reset_net(model)
    return correct / max(len(split), 1)


@dataclass
class EarlyStopper:
    """train_candidate's on_epoch callback for one trial: measures validation accuracy at the
    checkpoints, keeps the curve and raises StopTraining when a reference dominates the trial."""

    refs: list[Reference]
    cost_lower_bounds: tuple[float, ...]
    cost_names: tuple[str, ...]
    val: Split
    checkpoints: tuple[int, ...]
    margin: float = MARGIN
    curve: dict[int, float] = field(default_factory=dict)

    def __call__(self, epoch: int, model: torch.nn.Module) -> None:
        if epoch not in self.checkpoints:
            return
        accuracy = validation_accuracy(model, self.val)
        self.curve[epoch] = accuracy
        ref = dominating_reference(self.refs, self.cost_lower_bounds, epoch, accuracy, self.margin)
        if ref is not None:
            costs = ", ".join(f"{n} {c:.4g} <= {lb:.4g}" for n, c, lb in zip(self.cost_names, ref.costs, self.cost_lower_bounds))
            raise StopTraining(
                f"epoch {epoch}: accuracy {accuracy:.3f}; trial {ref.number} reached >= {ref.accuracy_from(epoch):.3f} "
                f"from epoch {epoch} on (margin {self.margin:g}) at no higher cost ({costs})"
            )


def make_stopper(
    study: optuna.Study, objectives: Sequence[str], cost_lower_bounds: Sequence[float], val: Split,
    total_epochs: int, device: Any, margin: float = MARGIN,
) -> EarlyStopper:
    """The stopper of a trial about to train, against the references the study holds now."""
    refs = references(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)), objectives)
    return EarlyStopper(
        refs, tuple(cost_lower_bounds), tuple(cost_objectives(objectives)), val.to(device),
        checkpoint_epochs(total_epochs), margin,
    )


def record(trial: optuna.Trial, stopper: EarlyStopper, result: TrainResult) -> None:
    """Store the trial's curve (checkpoints and its last epoch) and, if it was stopped, why."""
    curve = {**stopper.curve, result.epochs: result.accuracy}
    trial.set_user_attr(CURVE_ATTR, {str(e): a for e, a in sorted(curve.items())})
    if result.stop_reason:
        trial.set_user_attr("stop_reason", result.stop_reason)
