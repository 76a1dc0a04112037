"""The search loop: an Optuna multi-objective study over Candidates, screened, trained, costed.

Each trial: suggest a Candidate, screen it with the no-training cost model (rejected
candidates are recorded as infeasible with their constraint values and never trained),
otherwise train it briefly, measure spikes, cost it, set the budget/capacity constraints
with `trial.set_constraint` and return the objectives. Candidate, cost report and status
are trial user attributes, so optuna-dashboard shows them with nothing extra. In a study that
carries the mark constraints (dse.results.front.MARKS), every completed trial also gets
`stopped_early` and `not_deployable` (1.0 or 0.0), set here before the trial finishes: Optuna's
best_trials then leaves out stopped and fp reference trials as dse's front does.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable

import optuna

from cost_models.report import evaluate, quantity
from cost_models.screen import constraint_values, screen
from dse.results.front import mark_constraints, marks_trials
from dse.hardware.verilog_template import template_refusal
from dse.search import early_stop
from dse.training.artifacts import default_artifact_dir, record_trial_model
from dse.training.data import DataSplits
from dse.search.orphans import fail_orphaned_trials, record_process
from dse.search.study import SearchSettings, completed_count, open_study
from dse.training.train import train_candidate
from search_spaces.candidate import Candidate
from search_spaces.space import HARDWARE_KINDS, is_deployable

MAX_CONSECUTIVE_FAILURES = 5  # a run stops after this many failed trials in a row: the cause is not one trial
MAX_TRACEBACK_CHARS = 4000  # of a failed trial's traceback, kept as its user attr fail_traceback
SCREENED_ACCURACY = 0.0  # objective value booked for a screened (never trained) trial; it is infeasible anyway


class TrialRunner:
    """The Optuna objective: one call scores one Candidate."""

    def __init__(self, settings: SearchSettings, data: DataSplits, device: Any) -> None:
        self.settings = settings
        self.data = data
        self.device = device
        self.consecutive_failures = 0  # failed trials in a row in this process; run_search stops at MAX_CONSECUTIVE_FAILURES
        self._marks: bool | None = None  # whether the study's trials carry the mark constraints; read at the first trial

    def values(self, report: Any, accuracy: float) -> list[float]:
        return [accuracy if o == "accuracy" else float(quantity(report, o)) for o in self.settings.objectives]

    def __call__(self, trial: optuna.Trial) -> list[float]:
        record_process(trial)  # a resume on this host fails and retries the trial at once if this process dies
        try:
            values = self._score(trial)
        except Exception as exc:  # the trial fails, the study goes on; the traceback is kept for a bug report
            self.consecutive_failures += 1
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {str(exc)[:500]}")
            trial.set_user_attr("fail_traceback", traceback.format_exc()[-MAX_TRACEBACK_CHARS:])
            raise
        self.consecutive_failures = 0
        return values

    def _score(self, trial: optuna.Trial) -> list[float]:
        s = self.settings
        candidate = s.space.suggest(trial, self.data.input_shape, self.data.num_classes, self.data.input_kind)
        trial.set_user_attr("candidate", candidate.to_dict())
        trial.set_user_attr("summary", candidate.summary())
        # fp weights or membranes (a --reference-fp point): searched for comparison, kept off the deployable front
        deployable = is_deployable(candidate)
        trial.set_user_attr("deployable", deployable)
        screened = screen(candidate, s.target, s.budgets)
        # on a hardware target, a configuration the Verilog template cannot build is screened like one over budget
        refusal = template_refusal(candidate) if s.target.kind in HARDWARE_KINDS else None
        if not screened.feasible or refusal is not None:
            for key, value in screened.constraints.items():
                trial.set_constraint(key, value)
            self._mark(trial, stopped=False, deployable=deployable and refusal is None)
            trial.set_user_attr("status", "screened")
            trial.set_user_attr("violations", [*screened.violations, *([f"not buildable: {refusal}"] if refusal else [])])
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
        self._mark(trial, stopped=bool(result.stop_reason), deployable=deployable)
        trial.set_user_attr("status", "stopped" if result.stop_reason else "trained")
        if stopper is not None:
            early_stop.record(trial, stopper, result)
        trial.set_user_attr("accuracy", result.accuracy)
        trial.set_user_attr("firing_rates", result.firing_rates)
        trial.set_user_attr("ece", result.ece)
        trial.set_user_attr("train_seconds", result.train_seconds)  # a distillation teacher trained here included
        if result.teacher_cache_hit is not None:
            trial.set_user_attr("teacher_seconds", result.teacher_seconds)
            trial.set_user_attr("teacher_cache_hit", result.teacher_cache_hit)
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("cost", report.to_dict())
        return self.values(report, result.accuracy)

    def _mark(self, trial: optuna.Trial, stopped: bool, deployable: bool) -> None:
        """The mark constraints, after the budget and capacity ones (the same keys in the same order on every
        completed trial), where the study carries them; a study made before them is left as it was."""
        if self._marks is None:
            self._marks = marks_trials(trial.study)
        if self._marks:
            for key, value in mark_constraints(stopped, deployable).items():
                trial.set_constraint(key, value)

    def _early_stopper(self, trial: optuna.Trial, lower_bound: Any) -> early_stop.EarlyStopper | None:
        """The trial's on_epoch callback when early stopping is on; costs known before training are lower bounds."""
        s = self.settings
        if not s.early_stopping:
            return None
        bounds = [float(quantity(lower_bound, o)) for o in early_stop.cost_objectives(s.objectives)]
        stopper = early_stop.make_stopper(trial.study, s.objectives, bounds, self.data.val, s.fidelity.epochs, self.device)
        # a non-deployable fp reference never stops a trial: it is not on the front that trial competes for
        not_deployable = {t.number for t in trial.study.get_trials(deepcopy=False) if t.user_attrs.get("deployable") is False}
        stopper.refs = [r for r in stopper.refs if r.number not in not_deployable]
        return stopper


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
    Several processes may run this on one study (dse.search.workers): each stops when the study, not
    the process, holds enough completed trials, or after its running trial once `should_stop()`.
    """
    study = study or open_study(settings, worker)
    fail_orphaned_trials(study)  # trials of a dead process on this host: failed and retried now, not after the heartbeat
    remaining = settings.trials - completed_count(study)
    if remaining <= 0:
        return study
    logging.getLogger("optuna").setLevel(logging.ERROR)  # failed trials are reported by on_trial
    runner = TrialRunner(settings, data, device)
    callbacks: list[Any] = [optuna.study.MaxTrialsCallback(settings.trials)]
    if on_trial:
        callbacks.append(on_trial)
    # N failed trials in a row: the cause is not one trial (a bug, a broken data set); stop rather than burn the budget
    callbacks.append(lambda study, _trial: study.stop() if runner.consecutive_failures >= MAX_CONSECUTIVE_FAILURES else None)
    if should_stop:  # asked to stop (a parallel worker on Ctrl-C): after the running trial
        callbacks.append(lambda study, _trial: study.stop() if should_stop() else None)
    start = time.monotonic()
    while remaining > 0:
        timeout = None if settings.timeout_s is None else settings.timeout_s - (time.monotonic() - start)
        if timeout is not None and timeout <= 0:
            break
        study.optimize(runner, n_trials=remaining, timeout=timeout, catch=(Exception,), callbacks=callbacks)
        remaining = settings.trials - completed_count(study)  # failed trials do not count: run more
        if runner.consecutive_failures >= MAX_CONSECUTIVE_FAILURES or (should_stop and should_stop()):
            break
    return study


def stopped_on_failures(trials: list[optuna.trial.FrozenTrial], window: int = MAX_CONSECUTIVE_FAILURES) -> bool:
    """Whether the last `window` of these finished trials (a run's, in trial order) all failed."""
    finished = sorted((t for t in trials if t.state.is_finished()), key=lambda t: t.number)
    recent = finished[-window:]
    return len(recent) == window and all(t.state == optuna.trial.TrialState.FAIL for t in recent)


def failure_summary(trials: list[optuna.trial.FrozenTrial], shown: int = 3) -> str:
    """'N failed (first reasons: A; B)' over the failed trials given, naming up to `shown` distinct reasons."""
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    if not failed:
        return "0 failed"
    reasons = list(dict.fromkeys(t.user_attrs.get("fail_reason", "worker died (heartbeat stale)") for t in failed))
    more = f"; {len(reasons) - shown} more" if len(reasons) > shown else ""
    return f"{len(failed)} failed (first reasons: {'; '.join(reasons[:shown])}{more})"


def candidate_of(trial: optuna.trial.FrozenTrial) -> Candidate:
    return Candidate.from_dict(trial.user_attrs["candidate"])
