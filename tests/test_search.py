"""The search loop: screening without training, failed trials do not stop the study, seeds reproduce."""

import optuna

import dse.search.runner as search_module
from dse.errors import TrainingDiverged
from dse.search.runner import run_search


def test_over_budget_candidates_are_screened_without_training(make_settings, digits, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a screened candidate must not be trained")

    monkeypatch.setattr(search_module, "train_candidate", no_training)
    study = run_search(make_settings(budgets={"memory": 16.0}, trials=4, sampler="tpe"), digits, "cpu")
    trials = study.get_trials()
    assert len(trials) == 4
    for t in trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.user_attrs["status"] == "screened"
        assert any(c > 0 for c in t.constraints.values())
        assert t.user_attrs["violations"]
        assert t.user_attrs["cost"]["lower_bound"] is True
    assert study.best_trials == []


def test_diverging_trial_fails_and_study_goes_on(make_settings, digits, monkeypatch):
    real = search_module.train_candidate
    calls = {"n": 0}

    def sometimes_nan(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TrainingDiverged("non-finite loss at epoch 1, batch 3")
        return real(*args, **kwargs)

    monkeypatch.setattr(search_module, "train_candidate", sometimes_nan)
    study = run_search(make_settings(budgets={"energy": 0.6}, trials=3, sampler="tpe"), digits, "cpu")
    states = [t.state for t in study.get_trials()]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    failed = next(t for t in study.get_trials() if t.state == optuna.trial.TrialState.FAIL)
    assert "non-finite loss" in failed.user_attrs["fail_reason"]


def test_same_seed_reproduces_trial_parameters(make_settings, digits):
    a = run_search(make_settings(study_name="a", budgets={"energy": 0.6}, trials=12, sampler="tpe"), digits, "cpu")
    b = run_search(make_settings(study_name="b", budgets={"energy": 0.6}, trials=12, sampler="tpe"), digits, "cpu")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.values for t in a.trials] == [t.values for t in b.trials]


def test_resume_runs_until_requested_count(make_settings, digits):
    run_search(make_settings(study_name="r", budgets={"energy": 0.6}, trials=2, sampler="tpe"), digits, "cpu")
    study = run_search(make_settings(study_name="r", budgets={"energy": 0.6}, trials=3, sampler="tpe"), digits, "cpu")
    assert len(study.trials) == 3


ALL_TYPES_SPACE = """
families:
  mlp: {depth: [1], widths: [16]}
weight_bits: [1, 2, 4, fp]
membrane_bits: [6, fp]
timesteps: [1, 2]
parallelism: [4]
quantizers:
  uniform: {}
  tawq: {weight_bits: [2]}
  qsnn: {}
  mfp: {}
  ternary: {algorithm: [twn, ttq], distill: [false, true]}
  sigmoid: {weight_bits: [1, 2]}
"""


def test_a_study_over_all_six_types_trains_each(tmp_path, make_settings, digits):
    space = tmp_path / "all.yaml"
    space.write_text(ALL_TYPES_SPACE)
    s = make_settings(study_name="all", space=str(space), budgets={"energy": 0.6}, trials=24)
    study = run_search(s, digits, "cpu")
    trained = {t.params["quantizer"] for t in study.trials if t.user_attrs.get("status") == "trained"}
    assert trained == {"uniform", "tawq", "qsnn", "mfp", "ternary", "sigmoid"}
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
