"""Nothing lost, nothing mixed, no false success (issue 11): each test fails on 673a19d's behaviour.

- a study reopened with another target (name or file content), budgets, epochs or seed is refused;
- a search whose trials all fail exits 1, and one that stops on failures in a row exits 1;
- an output path that cannot be written, or a storage that cannot be opened, ends in one line, exit 2,
  and leaves nothing behind;
- a trial left RUNNING by a SIGKILLed search is failed and retried on an immediate resume.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import optuna
import pytest

import dse.search.runner
from cost_models.targets import TARGETS_DIR
from _processes import kill_search_mid_trial
from dse.cli import main

COMPLETE = optuna.trial.TrialState.COMPLETE


def _search(tiny_study: str, out: Path, *extra: str) -> list[str]:
    return ["search", "--study-config", tiny_study, "--out", str(out), "--quiet", "--verify", "0", *extra]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------- mixed studies


@pytest.fixture
def resumed(tmp_path, tiny_study, capsys):
    """A stored one-trial study, and a function that tries to resume it with extra options (exit code, stderr)."""
    out = tmp_path / "out"
    assert main(_search(tiny_study, out, "--trials", "1")) == 0
    capsys.readouterr()

    def resume(*extra: str) -> tuple[int, str]:
        pareto = (out / "pareto.json").read_text()
        code = main(_search(tiny_study, out, "--trials", "2", *extra))
        err = capsys.readouterr().err.strip()
        if code == 2:  # refused before anything was written or run
            assert (out / "pareto.json").read_text() == pareto
            assert len(optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}").trials) == 1
        return code, err

    return resume


@pytest.mark.parametrize("extra, named", [
    (["--target", "fpga-tiny"], "target 'fpga-small' there, 'fpga-tiny' here"),
    (["--budget", "0.5mJ"], "budgets {'energy': 0.6} there, {'energy': 0.5} here"),
    (["--budget", "0.6mJ", "--budget", "lut=1000"], "budgets"),
    (["--epochs", "2"], "epochs 1 there, 2 here"),
    (["--seed", "1"], "seed 0 there, 1 here"),
])
def test_resume_with_other_settings_is_refused_naming_each_difference(resumed, extra, named):
    code, err = resumed(*extra)
    assert code == 2 and "already exists" in err and named in err and len(err.splitlines()) == 1


def test_resume_with_the_same_settings_goes_on(resumed):
    code, _ = resumed("--budget", "0.6mJ", "--epochs", "1")  # the study file's values, given on the command line
    assert code == 0


def test_an_edited_target_file_is_another_target(tmp_path, tiny_study, capsys):
    target = tmp_path / "board.yaml"
    shutil.copy(TARGETS_DIR / "fpga-small.yaml", target)
    out = tmp_path / "out"
    assert main(_search(tiny_study, out, "--trials", "1", "--target", str(target))) == 0
    text = target.read_text()
    assert "clock_hz" in text or "clock" in text
    edited = text.replace("static_power_w:", "static_power_w:  ", 1)  # formatting only: the same content resumes
    target.write_text(edited)
    assert main(_search(tiny_study, out, "--trials", "1", "--target", str(target))) == 0
    import yaml

    doc = yaml.safe_load(text)
    _scale_first_number(doc)
    target.write_text(yaml.safe_dump(doc))
    capsys.readouterr()
    assert main(_search(tiny_study, out, "--trials", "2", "--target", str(target))) == 2
    assert "target_digest" in _one_line(capsys)


def _scale_first_number(doc: dict) -> None:
    """Double the static power: a cost-deciding constant of the target file."""
    node = doc["static_power_w"] if "static_power_w" in doc else doc["static_power"]
    key = "value" if isinstance(node, dict) else None
    if key:
        node[key] = float(node[key]) * 2
    else:
        doc["static_power_w"] = float(node) * 2


# ---------------------------------------------------------------- exit codes


def test_a_search_whose_trials_all_fail_exits_1_and_names_the_reason(tmp_path, tiny_study, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("training exploded")

    monkeypatch.setattr(dse.search.runner, "train_candidate", broken)
    out = tmp_path / "out"
    assert main(_search(tiny_study, out, "--trials", "4")) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "no trial completed: 5 failed (first reasons: RuntimeError: training exploded)" in err
    # besides the error, only the one warning that the tiny space's fp choices are left out on fpga-small
    errors = [line for line in err.splitlines() if not line.startswith("dse search: warning: space 'tiny-space'")]
    assert len(errors) == 1 and len(err.splitlines()) <= 2 and "Traceback" not in err
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == dse.search.runner.MAX_CONSECUTIVE_FAILURES  # stopped on the run of failures
    assert "training exploded" in study.trials[0].user_attrs["fail_traceback"]  # the bug's traceback is kept
    assert (out / "pareto.json").is_file()  # results are still written


def test_a_run_that_stops_on_failures_in_a_row_exits_1(tmp_path, tiny_study, monkeypatch, capsys):
    real = dse.search.runner.train_candidate
    calls = {"n": 0}

    def fails_after_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise ValueError("disk gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(dse.search.runner, "train_candidate", fails_after_two)
    monkeypatch.setattr(dse.search.runner, "screen", _never_screened(dse.search.runner.screen))
    out = tmp_path / "out"
    assert main(_search(tiny_study, out, "--trials", "10", "--no-early-stopping")) == 1
    err = capsys.readouterr().err.strip()
    assert "stopped after 5 failed trials in a row: 5 failed (first reasons: ValueError: disk gone)" in err


def _never_screened(screen):
    def wrapped(candidate, target, budgets):
        return screen(candidate, target, {})

    return wrapped


def test_a_search_with_completed_trials_exits_0(tmp_path, tiny_study):
    assert main(_search(tiny_study, tmp_path / "out", "--trials", "1")) == 0


# ---------------------------------------------------------------- outputs and storages


@pytest.mark.parametrize("out", ["/proc/nope", "/proc/nope/deeper"])
def test_an_output_folder_that_cannot_be_created_is_one_line(tiny_study, capsys, out):
    assert main(_search(tiny_study, Path(out))) == 2
    assert "--out" in _one_line(capsys) and not Path(out).exists()


@pytest.mark.parametrize("storage", ["foo://bar", "postgresql://nobody:x@127.0.0.1:1/none"])
def test_a_storage_that_cannot_be_opened_leaves_nothing(tmp_path, tiny_study, monkeypatch, capsys, storage):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["search", "--study-config", tiny_study, "--storage", storage, "--quiet"]) == 2  # --out dse-out/tiny
    assert "cannot open storage" in _one_line(capsys)
    assert list(work.iterdir()) == [], "a refused storage left files behind"
    assert main(["search", "--study-config", tiny_study, "--storage", storage, "--out", "a/b/c", "--quiet"]) == 2
    assert list(work.iterdir()) == []


# ---------------------------------------------------------------- killed trials


def test_a_killed_trial_is_retried_on_an_immediate_resume(tmp_path, tiny_study):
    """With a 30 s heartbeat the killed trial's heartbeat is still fresh on resume; its dead pid fails it."""
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    argv = _search(tiny_study, out, "--trials", "12", "--heartbeat", "30", "--no-early-stopping")
    killed = kill_search_mid_trial(argv, tmp_path, storage, "tiny", completed=1, needs_pid=True)
    assert killed is not None, "the search finished before it could be killed mid-trial"

    assert main(argv) == 0  # at once: the heartbeat (30 s) has not gone stale
    trials = {t.number: t for t in optuna.load_study(study_name="tiny", storage=storage).get_trials()}
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    assert "died" in trials[killed].user_attrs["fail_reason"]
    assert [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed], "the killed trial was not retried"
    assert not [t for t in trials.values() if t.state == optuna.trial.TrialState.RUNNING]
    assert sum(t.state == COMPLETE for t in trials.values()) >= 12


def test_a_running_trial_of_a_live_process_or_another_host_is_left_alone(tmp_path):
    from dse.search.orphans import HOST_ATTR, PID_ATTR, PID_START_ATTR, fail_orphaned_trials, process_start_ticks

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", directions=["maximize"])
    live = study.ask()
    live.set_user_attr(HOST_ATTR, __import__("socket").gethostname())
    live.set_user_attr(PID_ATTR, os.getpid())
    live.set_user_attr(PID_START_ATTR, process_start_ticks(os.getpid()))
    remote = study.ask()
    remote.set_user_attr(HOST_ATTR, "another-machine")
    remote.set_user_attr(PID_ATTR, 999999)
    reused = study.ask()  # this host, a live pid, but another start time: the pid was reused, the process is gone
    reused.set_user_attr(HOST_ATTR, __import__("socket").gethostname())
    reused.set_user_attr(PID_ATTR, os.getpid())
    reused.set_user_attr(PID_START_ATTR, (process_start_ticks(os.getpid()) or 0) + 1)
    assert fail_orphaned_trials(study) == [reused.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[live.number] == states[remote.number] == optuna.trial.TrialState.RUNNING
