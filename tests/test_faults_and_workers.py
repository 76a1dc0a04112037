"""Faults and workers: a SIGKILLed search loses no completed trial and resumes to its count; two
worker processes share one SQLite study; two workers join one PostgreSQL study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from _processes import kill_search_mid_trial, load_study_or_none as _load
from dse.cli import main

from _services import postgres_url

REPO = Path(__file__).resolve().parent.parent
COMPLETE = optuna.trial.TrialState.COMPLETE


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume(tmp_path, tiny_study):
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    argv = ["search", "--study-config", tiny_study, "--out", str(out), "--trials", "8", "--quiet", "--heartbeat", "1",
            "--verify", "0"]
    killed_number = kill_search_mid_trial(argv, tmp_path, storage, "tiny", completed=2)
    assert killed_number is not None, "the search finished or stalled before it could be killed mid-trial"
    before = {t.number: t.values for t in _load(storage, "tiny").get_trials(states=(COMPLETE,))}
    time.sleep(4)  # let the dead worker's heartbeat go stale (grace = 3 beats of 1 s)

    assert main(argv) == 0
    study = _load(storage, "tiny")
    after = {t.number: t for t in study.get_trials()}
    for number, values in before.items():  # completed work is untouched
        assert after[number].state == COMPLETE and after[number].values == values
    assert sum(t.state == COMPLETE for t in after.values()) >= 8
    assert after[killed_number].state == optuna.trial.TrialState.FAIL
    retried = [t for t in after.values() if t.system_attrs.get("failed_trial") == killed_number]
    # the retry starts from the parameters the killed trial had drawn (all of them, unless it was killed mid-suggest)
    assert retried and all(retried[0].params[k] == v for k, v in after[killed_number].params.items())


@pytest.mark.slow
def test_two_jobs_share_one_sqlite_study(tmp_path, tiny_study):
    out = tmp_path / "out"
    assert main(["search", "--study-config", tiny_study, "--out", str(out), "--trials", "6", "--jobs", "2", "--quiet",
                 "--verify", "0"]) == 0
    study = _load(f"sqlite:///{out / 'study.db'}", "tiny")
    done = study.get_trials(states=(COMPLETE,))
    assert len(done) >= 6
    assert len({t.number for t in done}) == len(done)
    assert all(t.user_attrs.get("status") in ("trained", "screened", "stopped") for t in done)
    assert not [t for t in study.get_trials() if t.state == optuna.trial.TrialState.FAIL]
    # both workers contributed: each worker's sampler has its own seed, so their first trials differ
    assert len({tuple(sorted(t.params.items())) for t in done}) >= 2


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_join_one_postgresql_study(tmp_path, tiny_study):
    url = postgres_url()
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    argv = ["search", "--study-config", tiny_study, "--storage", url, "--study", name, "--out", str(tmp_path / "out"),
            "--verify", "0", "--trials", "6", "--jobs", "2", "--quiet"]
    try:
        assert main(argv) == 0
        study = optuna.load_study(study_name=name, storage=url)
        done = study.get_trials(states=(COMPLETE,))
        assert len(done) >= 6
        assert len({t.number for t in done}) == len(done)
        # a second machine's command on the same study resumes it and adds nothing once it is complete
        assert main([*argv[:-5], "--trials", "6", "--quiet"]) == 0
        assert len(optuna.load_study(study_name=name, storage=url).get_trials(states=(COMPLETE,))) == len(done)
    finally:
        try:
            optuna.delete_study(study_name=name, storage=url)
        except KeyError:
            pass


@pytest.mark.parametrize("argv, fragment", [
    (["--jobs", "0"], "--jobs must be >= 1"),
    (["--heartbeat", "0"], "--heartbeat must be >= 1"),
    (["--storage", "postgresql://nobody:x@127.0.0.1:1/none"], "cannot open storage"),
    (["--storage", "not-a-url"], "not a storage URL"),
])
def test_bad_worker_options_one_line(tmp_path, tiny_study, capsys, argv, fragment):
    out = tmp_path / "out"
    code = main(["search", "--study-config", tiny_study, "--out", str(out), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_completed_trials_and_prints_the_front(tmp_path, tiny_study, jobs):
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    argv = [sys.executable, "-m", "dse.cli", "search", "--study-config", tiny_study, "--out", str(out),
            "--trials", "40", "--jobs", jobs, "--verify", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    done_before = 0
    while time.monotonic() < deadline and proc.poll() is None:
        study = _load(storage, "tiny")
        if study is not None:
            done_before = len(study.get_trials(states=(COMPLETE,)))
            if done_before >= 2:
                os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the whole group
                break
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=120)
    assert done_before >= 2, f"the search ended before it could be interrupted: {stderr[-500:]}"
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stdout and "Pareto front" in stdout and "Traceback" not in stderr
    study = _load(storage, "tiny")
    assert len(study.get_trials(states=(COMPLETE,))) >= done_before
    assert not [t for t in study.get_trials() if t.state == optuna.trial.TrialState.RUNNING]
    assert (out / "pareto.json").is_file() and (out / "trials.csv").is_file()


def test_a_study_is_not_resumed_with_a_changed_space_of_the_same_name(tiny_space, make_settings):
    from dse.errors import UserError
    from dse.search.study import open_study

    open_study(make_settings())
    open_study(make_settings())  # the same content resumes
    Path(tiny_space).write_text(Path(tiny_space).read_text().replace("widths: [16, 32]", "widths: [16, 64]"))
    with pytest.raises(UserError, match="already exists .* with other settings .*space_digest"):
        open_study(make_settings())  # the factory loads the space file anew at each call
