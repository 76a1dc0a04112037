"""Optuna storages for one process, several worker processes and several machines.

SQLite (the embedded default) and PostgreSQL go through Optuna's RDBStorage with a heartbeat:
a worker that dies mid-trial (SIGKILL, power loss) stops beating, and the next trial started by
any worker marks the stale trial FAIL and enqueues it again (RetryFailedTrialCallback), so no
work is lost and the study still reaches its count. SQLite waits for its lock instead of failing
when several processes write at once.
"""

from __future__ import annotations

import optuna
import warnings
from pathlib import Path
from typing import Any

from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

SQLITE_LOCK_TIMEOUT_S = 60  # seconds a writer waits for another process's SQLite lock
MAX_RETRIES = 2  # times a trial lost to a dead worker is run again
GRACE_FACTOR = 3  # a trial is stale after GRACE_FACTOR missed heartbeats

ACCEPTED = "sqlite:///PATH, postgresql://USER:PASSWORD@HOST[:PORT]/DB or mysql://..."


def make_storage(url: str, heartbeat_s: int | None = 10) -> optuna.storages.BaseStorage:
    """An RDB storage for `url` with heartbeat and retry of lost trials; ValueError on a malformed URL."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in ("sqlite", "postgresql", "postgres", "mysql"):
        raise ValueError(f"cannot open storage {url!r}: not a storage URL; accepted: {ACCEPTED}")
    engine_kwargs = {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}} if scheme == "sqlite" else {"pool_pre_ping": True}
    if heartbeat_s is None:
        return RDBStorage(url, engine_kwargs=engine_kwargs)
    with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna 5; they are what we need
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=int(heartbeat_s),
            grace_period=int(GRACE_FACTOR * heartbeat_s),
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES),
        )


def open_existing_study(storage_url: str, study_name: str) -> Any:
    """Load a study that must already exist, for the commands that read one (pareto, plot, report,
    export); never creates a storage file or a study. UserError (one line) otherwise."""
    from dse.errors import UserError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage_url.startswith("sqlite:///"):
        path = storage_url[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).is_file():
            raise UserError(f"no storage file {path!r} (from {storage_url!r}); give the URL of an existing study database")
    try:
        storage = optuna.storages.get_storage(storage_url)
        names = optuna.get_all_study_names(storage)
    except Exception as exc:  # sqlalchemy, OSError, ValueError for a malformed URL
        raise UserError(f"cannot open storage {storage_url!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if study_name not in names:
        shown = ", ".join(repr(n) for n in sorted(names)) or "none"
        raise UserError(f"no study {study_name!r} in {storage_url}; studies there: {shown}")
    return optuna.load_study(study_name=study_name, storage=storage)
