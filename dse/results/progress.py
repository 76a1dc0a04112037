"""What a running search tells its user: a line per finished trial and, on a terminal, a live bar.

The bar shows trials done of the target, screened, failed and stopped counts, front size,
hypervolume, elapsed and estimated remaining time. It is drawn only on a terminal; in a pipe
or a log file the per-trial lines are the progress. Both are Optuna callbacks, (study, trial).
"""

from __future__ import annotations

import time
from typing import Any

import optuna

from dse.results.front import is_feasible

COMPLETE = optuna.trial.TrialState.COMPLETE


class TrialPrinter:
    """Prints one line per finished trial: accuracy and energy, why it was screened, or why it failed."""

    def __init__(self, console: Any, total: int) -> None:
        self.console = console
        self.total = total

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        status = trial.user_attrs.get("status", trial.state.name.lower())
        summary = trial.user_attrs.get("summary", "")
        done = len(study.get_trials(deepcopy=False, states=(COMPLETE,)))
        head = f"[{done:>3}/{self.total}] trial {trial.number:>3}"
        if status == "screened":
            why = "; ".join(trial.user_attrs.get("violations", []))
            self.console.print(f"{head} screened  {summary}  ({why})")
        elif status in ("trained", "stopped") and "accuracy" in trial.user_attrs:
            cost = trial.user_attrs.get("cost", {})
            mark = "" if is_feasible(trial) else "  infeasible"
            word = "acc" if status == "trained" else "stopped at acc"
            self.console.print(
                f"{head} {word} {trial.user_attrs['accuracy']:.3f}  energy {cost.get('energy_mj', float('nan')):.4g} mJ  "
                f"{summary}  {trial.user_attrs.get('train_seconds', 0):.1f} s{mark}"
            )
        else:
            self.console.print(f"{head} failed    {summary}  ({trial.user_attrs.get('fail_reason', 'unknown reason')})")


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Completed, trained, screened, stopped and failed trial counts of a study."""
    counts = {"complete": 0, "trained": 0, "screened": 0, "stopped": 0, "failed": 0}
    for t in study.get_trials(deepcopy=False):
        if t.state == COMPLETE:
            counts["complete"] += 1
            status = t.user_attrs.get("status", "trained")
            if status in counts:
                counts[status] += 1
        elif t.state == optuna.trial.TrialState.FAIL:
            counts["failed"] += 1
    return counts


class ProgressBar:
    """A rich live bar for a terminal; use as a context manager and call like an Optuna callback."""

    def __init__(self, console: Any, total: int, already_done: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.total = total
        self.already_done = already_done
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("search"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TextColumn("left ~{task.fields[eta]}"),
            console=console, transient=True,
        )
        self.task = self.progress.add_task("search", total=total, completed=already_done, stats="", eta="?")

    def __enter__(self) -> "ProgressBar":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from dse.results.hypervolume import study_hypervolume
        from dse.results.front import pareto_front

        counts = study_counts(study)
        hv = study_hypervolume(study)
        stats = (
            f"screened {counts['screened']}  stopped {counts['stopped']}  failed {counts['failed']}  "
            f"front {len(pareto_front(study))}  HV {hv:.4g}"
        )
        done_now = counts["complete"] - self.already_done
        left = self.total - counts["complete"]
        eta = "?" if done_now <= 0 else _format_seconds((time.monotonic() - self.started) / done_now * max(left, 0))
        self.progress.update(self.task, completed=min(counts["complete"], self.total), stats=stats, eta=eta)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class Callbacks:
    """Calls several trial callbacks in order (Optuna takes a list, the parallel monitor one)."""

    def __init__(self, *callbacks: Any) -> None:
        self.callbacks = [c for c in callbacks if c is not None]

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        for callback in self.callbacks:
            callback(study, trial)
