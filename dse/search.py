"""The search loop: an Optuna multi-objective study over Candidates, screened, trained, costed.

Each trial: suggest a Candidate, screen it with the no-training cost model (rejected
candidates are recorded as infeasible with their constraint values and never trained),
otherwise train it briefly, measure spikes, cost it, set the budget/capacity constraints
with `trial.set_constraint` and return the objectives. Candidate, cost report and status
are trial user attributes, so optuna-dashboard shows them with nothing extra.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import optuna

from cost_models.report import evaluate, quantity
from cost_models.screen import constraint_values, screen
from cost_models.targets import Target
from dse import early_stop
from dse.artifacts import default_artifact_dir, record_trial_model
from dse.data import DataSplits
from dse.errors import UserError
from dse.sampler_names import SAMPLERS
from dse.storage import make_storage
from dse.train import Fidelity, train_candidate
from search_spaces.candidate import Candidate
from search_spaces.space import SearchSpace

SCREENED_ACCURACY = 0.0  # objective value booked for a screened (never trained) trial; it is infeasible anyway


@dataclass(frozen=True)
class SearchSettings:
    """A resolved search: what to explore, on which target, under which budgets, stored where."""

    study_name: str
    storage_url: str
    space: SearchSpace
    target: Target
    budgets: dict[str, float]
    objectives: tuple[str, ...]
    trials: int
    timeout_s: float | None
    fidelity: Fidelity
    sampler: str
    seed: int
    dataset: str
    early_stopping: bool = True  # stop trials dominated at equal epochs (dse/early_stop.py, docs/search.md)
    heartbeat_s: int = 10  # worker heartbeat; a trial silent for 3 beats is failed and retried
    artifact_dir: str | None = None  # trained weights as Optuna artifacts; None: DIR/artifacts beside sqlite:///DIR/x.db

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a stored study to be resumed by these settings."""
        return {
            "objectives": list(self.objectives), "space": self.space.name, "space_digest": self.space.digest(),
            "dataset": self.dataset,
        }


def directions(objectives: tuple[str, ...]) -> list[str]:
    return ["maximize" if o == "accuracy" else "minimize" for o in objectives]


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """Seeded sampler by name; TPE is multivariate (off by default for multi-objective in Optuna 5)."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed)
    if name == "gp":  # honours trial.set_constraint (constrained log EHVI); needs torch, about 0.4 s a trial
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"unknown sampler {name!r}; accepted: {', '.join(SAMPLERS)}")


def open_study(settings: SearchSettings, worker: int = 0) -> optuna.Study:
    """Create the study or join an existing one with the same objectives, space and data set.

    `worker` offsets the sampler's seed so parallel workers do not propose the same candidates.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = make_storage(settings.storage_url, settings.heartbeat_s)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:  # storage back ends raise many kinds (sqlalchemy, OSError, ...)
        raise UserError(f"cannot open storage {settings.storage_url!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    try:
        study = optuna.create_study(
            study_name=settings.study_name, storage=storage, directions=directions(settings.objectives),
            sampler=make_sampler(settings.sampler, settings.seed + worker), load_if_exists=True,
        )
    except UserError:
        raise
    except ValueError as exc:
        raise UserError(f"study {settings.study_name!r} in {settings.storage_url}: {exc}") from None
    except Exception as exc:  # storage back ends raise many kinds (sqlalchemy, OSError, ...)
        raise UserError(f"cannot open storage {settings.storage_url!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    stored = study.user_attrs.get("dse")
    wanted = settings.fingerprint()
    if stored is None:
        study.set_user_attr("dse", wanted)
        study.set_user_attr("target", settings.target.name)
        study.set_user_attr("budgets", settings.budgets)
    elif any(stored.get(key) != value for key, value in wanted.items() if key in stored):  # older studies lack a digest
        differ = ", ".join(f"{key} {stored.get(key)!r} there, {value!r} here" for key, value in wanted.items()
                           if key in stored and stored.get(key) != value)
        raise UserError(
            f"study {settings.study_name!r} already exists in {settings.storage_url} with other settings "
            f"({differ}): choose another --study name or storage"
        )
    return study


class TrialRunner:
    """The Optuna objective: one call scores one Candidate."""

    def __init__(self, settings: SearchSettings, data: DataSplits, device: Any) -> None:
        self.settings = settings
        self.data = data
        self.device = device

    def values(self, report: Any, accuracy: float) -> list[float]:
        return [accuracy if o == "accuracy" else float(quantity(report, o)) for o in self.settings.objectives]

    def __call__(self, trial: optuna.Trial) -> list[float]:
        try:
            return self._score(trial)
        except Exception as exc:
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}")
            raise

    def _score(self, trial: optuna.Trial) -> list[float]:
        s = self.settings
        candidate = s.space.suggest(trial, self.data.input_shape, self.data.num_classes, self.data.input_kind)
        trial.set_user_attr("candidate", candidate.to_dict())
        trial.set_user_attr("summary", candidate.summary())
        screened = screen(candidate, s.target, s.budgets)
        if not screened.feasible:
            for key, value in screened.constraints.items():
                trial.set_constraint(key, value)
            trial.set_user_attr("status", "screened")
            trial.set_user_attr("violations", screened.violations)
            trial.set_user_attr("cost", screened.report.to_dict())
            return self.values(screened.report, SCREENED_ACCURACY)
        stopper = self._early_stopper(trial, screened.report)
        result = train_candidate(
            candidate, self.data, s.fidelity, seed=s.seed * 100003 + trial.number, device=self.device, on_epoch=stopper
        )
        record_trial_model(trial, result.model, s.artifact_dir or default_artifact_dir(s.storage_url), self.data)
        report = evaluate(candidate, s.target, result.activity)
        for key, value in constraint_values(report, s.target, s.budgets).items():
            trial.set_constraint(key, value)
        trial.set_user_attr("status", "stopped" if result.stop_reason else "trained")
        if stopper is not None:
            early_stop.record(trial, stopper, result)
        trial.set_user_attr("accuracy", result.accuracy)
        trial.set_user_attr("firing_rates", result.firing_rates)
        trial.set_user_attr("ece", result.ece)
        trial.set_user_attr("train_seconds", result.train_seconds)
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("cost", report.to_dict())
        return self.values(report, result.accuracy)

    def _early_stopper(self, trial: optuna.Trial, lower_bound: Any) -> early_stop.EarlyStopper | None:
        """The trial's on_epoch callback when early stopping is on; costs known before training are lower bounds."""
        s = self.settings
        if not s.early_stopping:
            return None
        bounds = [float(quantity(lower_bound, o)) for o in early_stop.cost_objectives(s.objectives)]
        return early_stop.make_stopper(trial.study, s.objectives, bounds, self.data.val, s.fidelity.epochs, self.device)


def completed_count(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def run_search(
    settings: SearchSettings,
    data: DataSplits,
    device: Any,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    study: optuna.Study | None = None,
    worker: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> optuna.Study:
    """Run (or resume) the study until it holds `settings.trials` completed trials or times out.

    `study` is the already opened study of these settings, when the caller opened it to check it.
    Several processes may run this on one study (dse.parallel): each stops when the study, not
    the process, holds enough completed trials, or after its running trial once `should_stop()`.
    """
    study = study or open_study(settings, worker)
    remaining = settings.trials - completed_count(study)
    if remaining <= 0:
        return study
    logging.getLogger("optuna").setLevel(logging.ERROR)  # failed trials are reported by on_trial
    runner = TrialRunner(settings, data, device)
    callbacks: list[Any] = [optuna.study.MaxTrialsCallback(settings.trials)]
    if on_trial:
        callbacks.append(on_trial)
    if should_stop:  # asked to stop (a parallel worker on Ctrl-C): after the running trial
        callbacks.append(lambda study, _trial: study.stop() if should_stop() else None)
    start = time.monotonic()
    while remaining > 0:
        timeout = None if settings.timeout_s is None else settings.timeout_s - (time.monotonic() - start)
        if timeout is not None and timeout <= 0:
            break
        study.optimize(runner, n_trials=remaining, timeout=timeout, catch=(Exception,), callbacks=callbacks)
        remaining = settings.trials - completed_count(study)  # failed trials do not count: run more
        if _all_recent_failed(study) or (should_stop and should_stop()):
            break
    return study


def _all_recent_failed(study: optuna.Study, window: int = 5) -> bool:
    """Stop retrying when the last `window` trials all failed: something is wrong beyond one trial."""
    trials = study.get_trials(deepcopy=False)
    recent = trials[-window:]
    return len(recent) == window and all(t.state == optuna.trial.TrialState.FAIL for t in recent)


def candidate_of(trial: optuna.trial.FrozenTrial) -> Candidate:
    return Candidate.from_dict(trial.user_attrs["candidate"])
