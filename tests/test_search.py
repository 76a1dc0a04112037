"""The search loop: screening without training, failed trials do not stop the study, seeds reproduce."""

import optuna
import pytest

import dse.search as search_module
from cost_models.targets import load_target
from dse.data import load_dataset
from dse.errors import TrainingDiverged
from dse.search import SearchSettings, run_search
from dse.train import Fidelity
from search_spaces.space import SearchSpace


def settings(tmp_path, space_path, budgets, trials=4, name="s", seed=0):
    return SearchSettings(
        study_name=name, storage_url=f"sqlite:///{tmp_path / (name + '.db')}",
        space=SearchSpace.load(space_path), target=load_target("fpga-small"), budgets=budgets,
        objectives=("accuracy", "energy"), trials=trials, timeout_s=None,
        fidelity=Fidelity(epochs=1), sampler="tpe", seed=seed, dataset="digits",
    )


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_over_budget_candidates_are_screened_without_training(tmp_path, tiny_space, digits, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a screened candidate must not be trained")

    monkeypatch.setattr(search_module, "train_candidate", no_training)
    study = run_search(settings(tmp_path, tiny_space, {"memory": 16.0}), digits, "cpu")
    trials = study.get_trials()
    assert len(trials) == 4
    for t in trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.user_attrs["status"] == "screened"
        assert any(c > 0 for c in t.constraints.values())
        assert t.user_attrs["violations"]
        assert t.user_attrs["cost"]["lower_bound"] is True
    assert study.best_trials == []


def test_diverging_trial_fails_and_study_goes_on(tmp_path, tiny_space, digits, monkeypatch):
    real = search_module.train_candidate
    calls = {"n": 0}

    def sometimes_nan(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TrainingDiverged("non-finite loss at epoch 1, batch 3")
        return real(*args, **kwargs)

    monkeypatch.setattr(search_module, "train_candidate", sometimes_nan)
    study = run_search(settings(tmp_path, tiny_space, {"energy": 0.6}, trials=3), digits, "cpu")
    states = [t.state for t in study.get_trials()]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    failed = next(t for t in study.get_trials() if t.state == optuna.trial.TrialState.FAIL)
    assert "non-finite loss" in failed.user_attrs["fail_reason"]


def test_same_seed_reproduces_trial_parameters(tmp_path, tiny_space, digits):
    a = run_search(settings(tmp_path, tiny_space, {"energy": 0.6}, trials=12, name="a"), digits, "cpu")
    b = run_search(settings(tmp_path, tiny_space, {"energy": 0.6}, trials=12, name="b"), digits, "cpu")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.values for t in a.trials] == [t.values for t in b.trials]


def test_resume_runs_until_requested_count(tmp_path, tiny_space, digits):
    run_search(settings(tmp_path, tiny_space, {"energy": 0.6}, trials=2, name="r"), digits, "cpu")
    study = run_search(settings(tmp_path, tiny_space, {"energy": 0.6}, trials=3, name="r"), digits, "cpu")
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


def test_a_study_over_all_six_types_trains_each(tmp_path, digits):
    space = tmp_path / "all.yaml"
    space.write_text(ALL_TYPES_SPACE)
    s = settings(tmp_path, str(space), {"energy": 0.6}, trials=24, name="all")
    s = SearchSettings(**{**s.__dict__, "sampler": "random"})
    study = run_search(s, digits, "cpu")
    trained = {t.params["quantizer"] for t in study.trials if t.user_attrs.get("status") == "trained"}
    assert trained == {"uniform", "tawq", "qsnn", "mfp", "ternary", "sigmoid"}
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
