"""Trials orphaned by a dead process on this machine: failed and retried at once on resume.

The heartbeat rule (dse/storage.py) needs the dead worker's heartbeat to go stale, 3 beats after
it died; a study SIGKILLed and resumed at once would find the trial's heartbeat still fresh, and
nothing would look at it again. So each trial records where it runs (host, pid and the process's
start time, which tells a reused pid apart), and a resuming process fails every RUNNING trial of
this host whose process is gone, through the same retry callback as a stale heartbeat. Trials of
other hosts keep the heartbeat rule.
"""

from __future__ import annotations

import copy
import os
import socket
from typing import Any

import optuna

HOST_ATTR = "host"
PID_ATTR = "pid"
PID_START_ATTR = "pid_start_ticks"  # the process's start time in clock ticks since boot (/proc/PID/stat field 22)


def process_start_ticks(pid: int) -> int | None:
    """Start time of process `pid` in clock ticks since boot; None when it does not exist or /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return None
    # field 2 (comm) is parenthesised and may hold spaces; fields after the last ')' start at field 3
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


def is_alive(pid: int, start_ticks: int | None) -> bool:
    """Whether the process that ran the trial still runs: pid exists and, where known, has the same start time."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if start_ticks is None:
        return True
    now = process_start_ticks(pid)
    return now is None or now == start_ticks


def record_process(trial: optuna.Trial) -> None:
    """Record on the trial the host, pid and start time of the process running it."""
    pid = os.getpid()
    trial.set_user_attr(HOST_ATTR, socket.gethostname())
    trial.set_user_attr(PID_ATTR, pid)
    trial.set_user_attr(PID_START_ATTR, process_start_ticks(pid))


def orphaned_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """RUNNING trials recorded by a process of this host that no longer runs."""
    host = socket.gethostname()
    orphans = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get(HOST_ATTR) != host or not isinstance(attrs.get(PID_ATTR), int):
            continue
        if not is_alive(attrs[PID_ATTR], attrs.get(PID_START_ATTR)):
            orphans.append(trial)
    return orphans


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Fail this host's orphaned trials and enqueue their retries (the storage's stale-trial callback);
    returns their numbers. A trial another process fails first is left to that process."""
    storage: Any = study._storage
    failed = []
    for trial in orphaned_trials(study):
        pid = trial.user_attrs[PID_ATTR]
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"its process (pid {pid} on this host) died")
            if storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                failed.append(trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    callback = storage.get_heartbeat_stale_trial_callback() if hasattr(storage, "get_heartbeat_stale_trial_callback") else None
    if callback is not None:
        for trial in failed:
            callback(study, copy.deepcopy(storage.get_trial(trial._trial_id)))
    return [t.number for t in failed]
