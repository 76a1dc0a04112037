"""Optuna storages for one process, several worker processes and several machines.

SQLite (the embedded default) and PostgreSQL go through Optuna's RDBStorage with a heartbeat:
a worker that dies mid-trial (SIGKILL, power loss) stops beating, and the next trial started by
any worker marks the stale trial FAIL and enqueues it again (RetryFailedTrialCallback), so no
work is lost and the study still reaches its count. SQLite waits for its lock instead of failing
when several processes write at once.

Workers started at the same moment on a fresh storage race to create Optuna's tables and the
study (optuna/optuna#1092): the loser of each race gets a duplicate-key or "already exists"
error. Those errors are retried after a short jittered pause, a bounded number of times; the
errors a user can cause (a malformed URL, a missing driver, an unreachable server, an
unopenable SQLite file, a storage of another Optuna version) become one-line UserErrors, and
anything else propagates with its traceback.
"""

from __future__ import annotations

import random
import time
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from dse.errors import UserError

SQLITE_LOCK_TIMEOUT_S = 60  # seconds a writer waits for another process's SQLite lock
MAX_RETRIES = 2  # times a trial lost to a dead worker is run again
GRACE_FACTOR = 3  # a trial is stale after GRACE_FACTOR missed heartbeats

RACE_TRIES = 8  # attempts at creating the schema (and the study) while other workers race to do the same
RACE_FIRST_PAUSE_S = 0.05  # pause after the first clash; doubles after each, jittered by +-50 %
RACE_MAX_PAUSE_S = 1.5  # longest pause: all RACE_TRIES together wait at most about 7 s

ACCEPTED = "sqlite:///PATH, postgresql://USER:PASSWORD@HOST[:PORT]/DB or mysql://..."
SCHEMES = ("sqlite", "postgresql", "postgres", "mysql")
DRIVER_HINT = {"postgresql": 'pip install -e ".[postgres]"', "postgres": 'pip install -e ".[postgres]"',
               "mysql": "pip install mysqlclient (mysql://) or PyMySQL (mysql+pymysql://)"}
# what the loser of a schema or study creation race is told by the database (message fragments, lower case)
# (not SQLite's "database is locked": that comes after SQLITE_LOCK_TIMEOUT_S of waiting, too long to retry)
RACE_MESSAGES = ("already exists", "deadlock detected")

T = TypeVar("T")


def make_storage(url: str, heartbeat_s: int | None = 10) -> optuna.storages.BaseStorage:
    """An RDB storage for `url` with heartbeat and retry of lost trials.

    Creates Optuna's tables when the storage is fresh, retrying while other workers race to do
    the same. UserError (one line) for what a user can cause; a failed open creates no folder,
    and for SQLite no database file when its folder is missing.
    """
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in SCHEMES:
        raise UserError(f"cannot open storage {url!r}: not a storage URL; accepted: {ACCEPTED}")
    if scheme == "sqlite":
        _check_sqlite_path(url)  # SQLite creates the file on connect: refuse a missing folder before that
    engine_kwargs = {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}} if scheme == "sqlite" else {"pool_pre_ping": True}
    try:
        return _retry_races(lambda: _rdb_storage(url, engine_kwargs, heartbeat_s),
                            f"cannot open storage {url!r}: creating its tables")
    except UserError:
        raise
    except Exception as exc:
        failure = _open_failure(url, exc)
        if failure is None:
            raise
        raise failure from None


def _rdb_storage(url: str, engine_kwargs: dict[str, Any], heartbeat_s: int | None) -> RDBStorage:
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


def create_or_load_study(
    storage: optuna.storages.BaseStorage, study_name: str, storage_url: str, directions: list[str],
    sampler: optuna.samplers.BaseSampler,
) -> optuna.Study:
    """Create the study, or load it when it exists (several workers may start at once: a create
    that loses the race to another worker's is retried, and then loads that worker's study).

    UserError (one line) when the storage cannot be reached or the study has other directions.
    """
    def create() -> optuna.Study:
        return optuna.create_study(
            study_name=study_name, storage=storage, directions=directions, sampler=sampler, load_if_exists=True,
        )

    try:
        return _retry_races(create, f"study {study_name!r} in {storage_url}: creating it")
    except UserError:
        raise
    except ValueError as exc:  # Optuna's: directions it does not accept
        raise UserError(f"study {study_name!r} in {storage_url}: {_first_line(exc)}") from None
    except Exception as exc:
        failure = _connection_failure(storage_url, exc)
        if failure is None:
            raise
        raise failure from None


def open_existing_study(storage_url: str, study_name: str) -> Any:
    """Load a study that must already exist, for the commands that read one (pareto, plot, report,
    export); never creates a storage file or a study. UserError (one line) otherwise."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage_url.startswith("sqlite:///"):
        path = storage_url[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).is_file():
            raise UserError(f"no storage file {path!r} (from {storage_url!r}); give the URL of an existing study database")
    try:
        storage = optuna.storages.get_storage(storage_url)
        names = optuna.get_all_study_names(storage)
    except Exception as exc:
        failure = _open_failure(storage_url, exc)
        if failure is None:
            raise
        raise failure from None
    if study_name not in names:
        shown = ", ".join(repr(n) for n in sorted(names)) or "none"
        raise UserError(f"no study {study_name!r} in {storage_url}; studies there: {shown}")
    return optuna.load_study(study_name=study_name, storage=storage)


def _check_sqlite_path(url: str) -> None:
    """Refuse (one line) an SQLite URL whose database file cannot be created, before SQLite creates anything."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        raise UserError(f"cannot open storage {url!r}: malformed URL ({_first_line(exc)}); accepted: {ACCEPTED}") from None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or "uri" in parsed.query:
        return  # in memory, or an SQLite URI filename: SQLite reads the path itself
    path = Path(database)
    if path.is_dir():
        raise UserError(f"cannot open storage {url!r}: {str(path)!r} is a folder; give the path of a database file in it")
    folder = path.parent
    if not folder.is_dir():
        why = f"{str(folder)!r} is not a folder" if folder.exists() else f"the folder {str(folder)!r} does not exist"
        raise UserError(f"cannot open storage {url!r}: {why}; create the folder or give another path")


def _retry_races(attempt: Callable[[], T], what: str) -> T:
    """attempt(), again after a short jittered pause while it loses a creation race to another worker;
    UserError (one line) when it still loses after RACE_TRIES tries. Other errors propagate at once."""
    pause = RACE_FIRST_PAUSE_S
    jitter = random.Random()  # seeded from the OS: forked workers do not pause in step
    for tries in range(1, RACE_TRIES + 1):
        try:
            return attempt()
        except Exception as exc:
            if not _is_race(exc):
                raise
            if tries == RACE_TRIES:
                raise UserError(
                    f"{what} clashed with other workers starting at the same moment, {RACE_TRIES} tries in a row "
                    f"({type(exc).__name__}: {_first_line(exc)}); run the command again"
                ) from None
        time.sleep(pause * jitter.uniform(0.5, 1.5))
        pause = min(2 * pause, RACE_MAX_PAUSE_S)
    raise AssertionError("unreachable")


def _is_race(exc: BaseException) -> bool:
    """True for the errors the loser of a race to create tables, the version row or a study gets:
    a duplicate key, an object that "already exists", a deadlock between the creators."""
    for err in _chain(exc):
        if isinstance(err, (sqlalchemy.exc.IntegrityError, optuna.exceptions.DuplicatedStudyError)):
            return True
        if isinstance(err, (sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError)):
            text = str(err).lower()
            if any(message in text for message in RACE_MESSAGES):
                return True
    return False


def _open_failure(url: str, exc: BaseException) -> UserError | None:
    """The one-line UserError for a storage that could not be opened for a reason the user can fix;
    None for anything else (a programming error, which must keep its traceback)."""
    where = f"cannot open storage {url!r}"
    if isinstance(exc, (sqlalchemy.exc.ArgumentError, ValueError)):  # SQLAlchemy's or Optuna's reading of the URL
        return UserError(f"{where}: malformed URL ({type(exc).__name__}: {_first_line(exc)}); accepted: {ACCEPTED}")
    if isinstance(exc, ImportError) and isinstance(exc.__cause__, ImportError):  # Optuna wraps the driver's import
        scheme = url.split(":", 1)[0].split("+", 1)[0]
        hint = DRIVER_HINT.get(scheme, f"install the Python driver that {scheme}:// needs")
        return UserError(f"{where}: its database driver is not installed ({_first_line(exc.__cause__)}); {hint}")
    if isinstance(exc, RuntimeError) and "compatible with the table schema" in str(exc):  # Optuna's version check
        return UserError(f"{where}: {_first_line(exc)}")
    return _connection_failure(url, exc)


def _connection_failure(url: str, exc: BaseException) -> UserError | None:
    """The one-line UserError for an unreachable server, refused credentials or an SQLite file that cannot be
    opened (also when Optuna wrapped SQLAlchemy's error in a StorageInternalError); None for anything else."""
    for err in _chain(exc):
        if isinstance(err, sqlalchemy.exc.OperationalError) or (
            isinstance(err, sqlalchemy.exc.DatabaseError) and "not a database" in str(err)  # SQLite on another file
        ):
            return UserError(f"cannot open storage {url!r}: {_first_line(err)}")
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """exc and the errors it was explicitly raised from (Optuna wraps SQLAlchemy's in StorageInternalError)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__
    return seen


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, without SQLAlchemy's "(driver.ErrorClass)" prefix."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
