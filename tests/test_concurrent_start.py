"""Workers started at the same moment on a fresh storage all join one study (issue 11, item 8): they
race to create Optuna's tables and the study, and the losers retry instead of dying. A storage that
cannot be opened is refused in one line and creates nothing (items 5, 9); any other error keeps its
traceback.

Keep the module's imports light: the 'spawn' workers below import it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc

from _services import postgres_url

REPO = Path(__file__).resolve().parent.parent
WORKERS = 4
STUDY = "tiny"
DIRECTIONS = ["maximize", "minimize"]

# `python -m dse.cli` with one change: each process waits at open_study until all WORKERS processes are
# there (after the seconds of importing torch and loading data, which would spread their starts), so
# they open the fresh storage within a few milliseconds of each other.
START_TOGETHER = """
import os, runpy, sys, time
import alembic.migration, dse.search.runner, dse.search.study, sqlalchemy.dialects.postgresql.psycopg  # not on the clock after the gate
gate, workers = os.environ["DSE_TEST_GATE"], int(os.environ["DSE_TEST_WORKERS"])
real_open_study = dse.search.study.open_study
def open_study_together(*args, **kwargs):
    open(os.path.join(gate, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 120
    while len(os.listdir(gate)) < workers and time.monotonic() < deadline:
        time.sleep(0.002)
    return real_open_study(*args, **kwargs)
dse.search.study.open_study = dse.search.runner.open_study = open_study_together  # runner holds its own name
runpy.run_module("dse.cli", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def fresh_postgres():
    """The URL of a new, empty PostgreSQL database on the test server, dropped afterwards."""
    import psycopg

    url = postgres_url()
    admin = sqlalchemy.engine.make_url(url).set(drivername="postgresql")
    name = f"dse_fresh_{uuid.uuid4().hex[:8]}"
    admin_dsn = admin.render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege as exc:
        pytest.fail(f"the test role cannot create databases ({exc}); scripts/test-services.sh grants CREATEDB",
                    pytrace=False)
    yield sqlalchemy.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _open_together(url: str, barrier, results) -> None:
    """One 'spawn' worker: wait for the others, then open the storage and create or load the study."""
    from dse.search.storage import create_or_load_study, make_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    barrier.wait(timeout=120)
    try:
        storage = make_storage(url, 10)
        study = create_or_load_study(storage, STUDY, url, DIRECTIONS, optuna.samplers.RandomSampler(seed=0))
        results.put(("ok", study._study_id))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _race(url: str) -> list[tuple[str, object]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    workers = [ctx.Process(target=_open_together, args=(url, barrier, results)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    try:
        return [results.get(timeout=150) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()


@pytest.mark.slow
@pytest.mark.postgres
def test_search_processes_started_together_on_a_fresh_postgresql_join_one_study(tmp_path, tiny_study, fresh_postgres):
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DSE_TEST_GATE": str(gate), "DSE_TEST_WORKERS": str(WORKERS)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START_TOGETHER, "search", "--study-config", tiny_study, "--storage", fresh_postgres,
             "--study", STUDY, "--out", str(tmp_path / f"out{k}"), "--trials", "2", "--verify", "0", "--quiet",
             "--no-early-stopping"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        for k in range(WORKERS)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=240))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    for proc, (_stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    assert len(os.listdir(gate)) == WORKERS  # every process went through the gate: they opened the storage together
    assert optuna.get_all_study_names(fresh_postgres) == [STUDY]
    trials = optuna.load_study(study_name=STUDY, storage=fresh_postgres).get_trials()
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 2
    assert all(state == optuna.trial.TrialState.COMPLETE for state in states), states  # none lost, none RUNNING


@pytest.mark.postgres
def test_workers_opening_a_fresh_postgresql_at_one_instant_join_one_study(fresh_postgres):
    results = _race(fresh_postgres)
    assert [status for status, _ in results] == ["ok"] * WORKERS, results
    assert len({study_id for _, study_id in results}) == 1
    assert optuna.get_all_study_names(fresh_postgres) == [STUDY]


def test_workers_opening_a_fresh_sqlite_file_at_one_instant_join_one_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    results = _race(url)
    assert [status for status, _ in results] == ["ok"] * WORKERS, results
    assert len({study_id for _, study_id in results}) == 1
    assert optuna.get_all_study_names(url) == [STUDY]


# ---------------------------------------------------------------- the retry itself


def _lost_race(statement: str = "INSERT INTO studies") -> sqlalchemy.exc.IntegrityError:
    return sqlalchemy.exc.IntegrityError(statement, {}, Exception('duplicate key value violates unique constraint'))


def test_a_study_create_that_loses_the_race_is_retried_and_loads_the_winners_study(tmp_path, monkeypatch):
    from dse.search.storage import create_or_load_study, make_storage

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = make_storage(url, None)
    winner = optuna.create_study(study_name=STUDY, storage=url, directions=DIRECTIONS)  # another worker's
    real_create, calls = storage.create_new_study, []

    def create_new_study(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:  # the first attempts see the other worker's uncommitted row
            raise _lost_race()
        return real_create(*args, **kwargs)

    monkeypatch.setattr(storage, "create_new_study", create_new_study)
    study = create_or_load_study(storage, STUDY, url, DIRECTIONS, optuna.samplers.RandomSampler())
    assert len(calls) == 3
    assert study.study_name == STUDY and study._study_id == winner._study_id
    assert optuna.get_all_study_names(url) == [STUDY]


def test_schema_creation_that_loses_the_race_is_retried(tmp_path, monkeypatch):
    import dse.search.storage

    real_storage, calls = dse.search.storage.RDBStorage, []

    def rdb_storage(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise _lost_race("CREATE TABLE studies")  # PostgreSQL: pg_type_typname_nsp_index
        if len(calls) == 2:
            raise sqlalchemy.exc.ProgrammingError("CREATE TABLE trials", {}, Exception('relation "trials" already exists'))
        return real_storage(*args, **kwargs)

    monkeypatch.setattr(dse.search.storage, "RDBStorage", rdb_storage)
    storage = dse.search.storage.make_storage(f"sqlite:///{tmp_path / 'study.db'}", None)
    assert len(calls) == 3 and isinstance(storage, real_storage)


def test_a_race_lost_every_time_ends_in_one_line(tmp_path, monkeypatch):
    import dse.search.storage
    from dse.errors import UserError

    calls = []

    def always_lost(*args, **kwargs):
        calls.append(1)
        raise _lost_race("CREATE TABLE studies")

    monkeypatch.setattr(dse.search.storage, "RACE_FIRST_PAUSE_S", 0.001)
    monkeypatch.setattr(dse.search.storage, "RDBStorage", always_lost)
    with pytest.raises(UserError, match="clashed with other workers") as err:
        dse.search.storage.make_storage(f"sqlite:///{tmp_path / 'study.db'}", None)
    assert len(calls) == dse.search.storage.RACE_TRIES and len(str(err.value).splitlines()) == 1


def test_errors_that_are_not_the_users_keep_their_traceback(tmp_path, monkeypatch):
    import dse.search.storage
    from dse.search.storage import create_or_load_study, make_storage, open_existing_study

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = make_storage(url, None)
    bug, calls = RuntimeError("a bug inside"), []

    def buggy(*args, **kwargs):
        calls.append(1)
        raise bug

    monkeypatch.setattr(storage, "create_new_study", buggy)
    with pytest.raises(RuntimeError) as raised:
        create_or_load_study(storage, STUDY, url, DIRECTIONS, optuna.samplers.RandomSampler())
    assert raised.value is bug and len(calls) == 1  # not retried, not a UserError

    monkeypatch.setattr(dse.search.storage, "RDBStorage", buggy)
    with pytest.raises(RuntimeError) as raised:
        make_storage(url, None)
    assert raised.value is bug and len(calls) == 2

    monkeypatch.setattr(optuna.storages, "get_storage", buggy)
    with pytest.raises(RuntimeError) as raised:
        open_existing_study(url, STUDY)
    assert raised.value is bug


# ---------------------------------------------------------------- storages that cannot be opened


@pytest.mark.parametrize("url, fragment", [
    ("postgresql://nobody:x@127.0.0.1:1/none", "Connection refused"),
    ("foo://bar", "not a storage URL; accepted: sqlite:///PATH"),
    ("postgresql://host:notaport/db", "malformed URL"),
    ("sqlite:///missing/study.db", "the folder 'missing' does not exist"),
    ("sqlite:///.", "is a folder"),
])
def test_a_storage_that_cannot_be_opened_is_one_line_and_creates_nothing(tmp_path, monkeypatch, url, fragment):
    from dse.errors import UserError
    from dse.search.storage import make_storage

    if url.startswith("postgresql://nobody"):
        pytest.importorskip("psycopg")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as err:
        make_storage(url)
    assert fragment in str(err.value) and len(str(err.value).splitlines()) == 1
    assert str(err.value).startswith("cannot open storage ")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_driver_names_the_extra_to_install(tmp_path, monkeypatch):
    from dse.errors import UserError
    from dse.search.storage import make_storage

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails as if it were not installed
    with pytest.raises(UserError, match=r'driver is not installed .*; pip install -e "\.\[postgres\]"') as err:
        make_storage("postgresql+psycopg://dse:dse@127.0.0.1:1/none")
    assert len(str(err.value).splitlines()) == 1


def test_a_file_that_is_not_a_study_database_is_one_line(tmp_path):
    from dse.errors import UserError
    from dse.search.storage import make_storage, open_existing_study

    other = tmp_path / "notes.db"
    other.write_text("not a database\n" * 100)
    for opener in (lambda url: make_storage(url), lambda url: open_existing_study(url, STUDY)):
        with pytest.raises(UserError, match="cannot open storage .*not a database") as err:
            opener(f"sqlite:///{other}")
        assert len(str(err.value).splitlines()) == 1


def test_a_storage_of_another_optuna_version_is_one_line(tmp_path):
    from dse.errors import UserError
    from dse.search.storage import make_storage

    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_storage(url, None).engine.dispose()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:  # as if a later Optuna had migrated the schema
        conn.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = 'v99.0.0.a'"))
    engine.dispose()
    with pytest.raises(UserError, match="no longer compatible with the table schema") as err:
        make_storage(url, None)
    assert len(str(err.value).splitlines()) == 1
