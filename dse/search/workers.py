"""`--jobs N`: N worker processes on one study, watched by the parent process.

Workers are long-lived (one process per worker, never per trial: an import costs ~4 s) and
share the cores: each gets cores // N torch threads. They meet only in the Optuna storage, so
the same code joins workers on other machines through PostgreSQL. The parent reports trials as
they finish by polling the storage, restarts a worker that died (its lost trial is failed by the
heartbeat and retried by the survivors), and on Ctrl-C lets the workers stop their trials.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from typing import Any, Callable

import optuna

from dse.search.study import SearchSettings, completed_count

POLL_S = 0.5  # how often the parent reads the storage for finished trials
MAX_RESTARTS = 3  # per search: a worker that keeps dying points at a bug, not at bad luck


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads per worker: the cores split evenly, at least one."""
    return max(1, (cores or os.cpu_count() or 1) // jobs)


def _worker(settings: SearchSettings, worker: int, device_name: str, threads: int, stop: Any) -> None:
    """One worker process: its own data, device and sampler seed, then the ordinary search loop.

    It ignores Ctrl-C (a terminal sends it to the whole process group): the parent decides, and
    sets `stop`, after which the worker finishes its running trial and exits.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    from dse.training.data import load_dataset
    from dse.device import select_device
    from dse.search.runner import run_search

    torch.set_num_threads(threads)
    data = load_dataset(settings.dataset, seed=settings.seed)
    run_search(settings, data, select_device(device_name), worker=worker, should_stop=stop.is_set)


def run_parallel(
    settings: SearchSettings,
    study: optuna.Study,
    jobs: int,
    device_name: str = "auto",
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> optuna.Study:
    """Run `jobs` worker processes on the (already opened and checked) study until it is complete.

    Once `should_stop()` (the caller's first Ctrl-C), the workers finish their running trials and
    exit: nothing is lost or left running. A KeyboardInterrupt here (a second Ctrl-C) terminates
    them; their trials are failed and retried by the heartbeat on the next run.
    """
    context = mp.get_context("spawn")  # fork after torch/OpenMP initialisation is unsafe
    threads = threads_per_job(jobs)
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    processes: dict[int, Any] = {}
    stop = context.Event()
    restarts = 0

    def start(worker: int) -> None:
        proc = context.Process(target=_worker, args=(settings, worker, device_name, threads, stop), daemon=False)
        proc.start()
        processes[worker] = proc

    for worker in range(jobs):
        start(worker)
    try:
        while processes:
            time.sleep(POLL_S)
            if should_stop is not None and should_stop():
                stop.set()
            _report_new(study, seen, on_trial)
            for worker, proc in list(processes.items()):
                if proc.is_alive():
                    continue
                proc.join()
                del processes[worker]
                died = proc.exitcode is not None and proc.exitcode != 0
                if died and not stop.is_set() and completed_count(study) < settings.trials and restarts < MAX_RESTARTS:
                    restarts += 1
                    start(worker + jobs * restarts)  # a fresh sampler seed for the replacement
    except KeyboardInterrupt:  # do not wait for the running trials
        for proc in processes.values():
            proc.terminate()
        for proc in processes.values():
            proc.join(timeout=30)
        raise
    _report_new(study, seen, on_trial)
    return study


def _report_new(
    study: optuna.Study,
    seen: set[int],
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None,
) -> None:
    """Call on_trial once for each trial that finished since the last poll, in trial order."""
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number not in seen:
            seen.add(trial.number)
            if on_trial:
                on_trial(study, trial)
