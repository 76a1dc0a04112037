"""A `dse search` in its own process group, SIGKILLed mid-trial: what the fault tests resume from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parent.parent
COMPLETE = optuna.trial.TrialState.COMPLETE
RUNNING = optuna.trial.TrialState.RUNNING


def load_study_or_none(storage: str, name: str) -> optuna.Study | None:
    """The study, or None while its storage or the study itself does not exist yet."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except Exception:  # no file, no tables or no study yet: the search is still starting
        return None


def kill_search_mid_trial(argv: list[str], cwd: Path, storage: str, study: str, completed: int,
                          needs_pid: bool = False, timeout_s: float = 240) -> int | None:
    """Run `dse ARGV`, SIGKILL its process group once the study holds `completed` finished trials and a
    RUNNING one (that has recorded its pid, with `needs_pid`); returns that trial's number, or None when
    the search ended first."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "dse.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed = None
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            loaded = load_study_or_none(storage, study)
            trials = loaded.get_trials(deepcopy=False) if loaded is not None else []
            running = [t for t in trials if t.state == RUNNING and (not needs_pid or "pid" in t.user_attrs)]
            if sum(t.state == COMPLETE for t in trials) >= completed and running:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = running[0].number
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None and killed is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return killed
