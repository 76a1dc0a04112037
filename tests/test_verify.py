"""Front verification: records in the study, members dominated or over budget after retraining are flagged."""

import optuna
import pytest

import dse.training.train as train_module
from cost_models.activity import activity_from_rate
from cost_models.report import evaluate
from cost_models.targets import load_target
from dse.errors import UserError
from dse.results.front import flagged_members, front_document, pareto_front, trial_row
from dse.search.study import open_study
from dse.training.train import Fidelity, TrainResult
from dse.search.verify import RECORD_PREFIX, SUMMARY_ATTR, verification_epochs, verify_front
from search_spaces.candidate import Candidate

TARGET = load_target("fpga-small")


def mlp(width: int) -> Candidate:
    return Candidate.from_dict({
        "family": "mlp", "widths": [width], "weight_bits": [4, 4], "membrane_bits": [6], "timesteps": 2,
        "quantizer": "uniform", "quantizer_options": {"scale": "mean"}, "parallelism": [4, 4],
        "input_shape": [1, 8, 8], "num_classes": 10,
    })


WIDE, NARROW = mlp(64), mlp(16)
RATE = 0.1


def energy_mj(candidate: Candidate, rate: float = RATE) -> float:
    return evaluate(candidate, TARGET, activity_from_rate(candidate, rate)).energy_mj


def add_trained(study: optuna.Study, candidate: Candidate, accuracy: float) -> None:
    report = evaluate(candidate, TARGET, activity_from_rate(candidate, RATE))
    study.add_trial(optuna.trial.create_trial(
        values=[accuracy, report.energy_mj],
        user_attrs={"status": "trained", "accuracy": accuracy, "candidate": candidate.to_dict(),
                    "summary": candidate.summary(), "cost": report.to_dict()},
        constraints={"energy": -0.5},
    ))


def fake_training(accuracy_by_width: dict[int, float], rate: float, calls: list):
    """train_candidate stand-in: fixed accuracy per width (plus a seed-dependent 0-2 points), uniform firing rate."""
    def train(candidate, data, fidelity, seed, device, on_epoch=None):
        calls.append((candidate.widths[0], fidelity.epochs, seed))
        accuracy = accuracy_by_width[candidate.widths[0]] + 0.01 * (seed % 3)
        return TrainResult(accuracy, activity_from_rate(candidate, rate), {}, fidelity.epochs, 0.0)
    return train


def test_default_fidelity_is_30_epochs_or_the_studys_own():
    assert verification_epochs(6) == 30
    assert verification_epochs(50) == 50


def test_a_member_dominated_after_verification_is_flagged(make_settings, monkeypatch):
    s = make_settings(study_name="v", target=TARGET, budgets={"energy": 0.6}, trials=2, fidelity=Fidelity(epochs=2))
    study = open_study(s)
    assert energy_mj(NARROW) < energy_mj(WIDE)
    add_trained(study, WIDE, 0.95)  # trial 0: best at the search's fidelity ...
    add_trained(study, NARROW, 0.90)  # trial 1: cheaper
    calls: list = []
    monkeypatch.setattr(train_module, "train_candidate", fake_training({64: 0.80, 16: 0.92}, RATE, calls))
    members = verify_front(study, s, data=None, device="cpu", seeds=3, epochs=5)

    assert {m.trial for m in members} == {0, 1}
    assert len(calls) == 6 and {epochs for _, epochs, _ in calls} == {5}
    assert len({seed for _, _, seed in calls}) == 6  # every run its own seed
    record = study.user_attrs[RECORD_PREFIX + "0"]
    assert record["epochs"] == 5 and len(record["seeds"]) == 3 and len(record["accuracies"]) == 3
    assert study.user_attrs[SUMMARY_ATTR] == {"epochs": 5, "seeds": 3, "trials": [0, 1], "flagged": [0]}

    wide = next(m for m in members if m.trial == 0)
    assert wide.dominated_by == (1,) and wide.flagged
    assert [t.number for t in pareto_front(study, verified=False)] == [0, 1]
    front = pareto_front(study)
    assert [t.number for t in front] == [1]
    narrow = front[0].user_attrs
    expected = [0.92 + 0.01 * (seed % 3) for seed in narrow["verified_seeds"]]
    assert narrow["verified_accuracy_mean"] == pytest.approx(sum(expected) / 3)
    assert narrow["verified_accuracy_std"] > 0
    assert narrow["verified_epochs"] == 5
    assert narrow["verified_values"]["energy"] == pytest.approx(energy_mj(NARROW))
    assert "±" in trial_row(front[0])["accuracy"]
    assert [t.number for t in flagged_members(study)] == [0]

    document = front_document(study, s.storage_url)
    assert [m["trial"] for m in document["front"]] == [1]
    assert document["front"][0]["verified_accuracy_mean"] == pytest.approx(narrow["verified_accuracy_mean"])
    assert [(m["trial"], m["verified_dominated_by"]) for m in document["flagged"]] == [(0, [1])]
    short = front_document(study, s.storage_url, verified=False)
    assert [m["trial"] for m in short["front"]] == [0, 1] and short["flagged"] == []


def test_a_second_verification_reuses_stored_records(make_settings, monkeypatch):
    s = make_settings(study_name="v", target=TARGET, budgets={"energy": 0.6}, trials=2, fidelity=Fidelity(epochs=2))
    study = open_study(s)
    add_trained(study, NARROW, 0.90)
    calls: list = []
    monkeypatch.setattr(train_module, "train_candidate", fake_training({16: 0.93}, RATE, calls))
    first = verify_front(study, s, data=None, device="cpu", seeds=2, epochs=3)
    again = verify_front(study, s, data=None, device="cpu", seeds=2, epochs=3)
    assert len(calls) == 2 and again[0].accuracies == first[0].accuracies  # resumed: no retraining
    verify_front(study, s, data=None, device="cpu", seeds=3, epochs=3)
    assert len(calls) == 5  # other settings: retrained


def test_a_member_over_budget_after_verification_is_flagged(make_settings, monkeypatch):
    budget = (energy_mj(NARROW, RATE) + energy_mj(NARROW, 0.9)) / 2  # met at 10 % firing, broken at 90 %
    s = make_settings(study_name="v", target=TARGET, budgets={"energy": budget}, trials=2, fidelity=Fidelity(epochs=2))
    study = open_study(s)
    add_trained(study, NARROW, 0.90)
    monkeypatch.setattr(train_module, "train_candidate", fake_training({16: 0.93}, 0.9, []))
    (member,) = verify_front(study, s, data=None, device="cpu", seeds=2, epochs=3)
    assert not member.feasible and member.flagged and member.dominated_by == ()
    assert len(member.violations) == 2 and all("energy" in v for v in member.violations)
    assert pareto_front(study) == []
    assert [t.number for t in pareto_front(study, verified=False)] == [0]


def test_bad_seed_or_epoch_counts_are_refused(make_settings):
    s = make_settings(study_name="v", target=TARGET, budgets={"energy": 0.6}, trials=2, fidelity=Fidelity(epochs=2))
    study = open_study(s)
    with pytest.raises(UserError, match="at least 1 seed"):
        verify_front(study, s, data=None, device="cpu", seeds=0)
    with pytest.raises(UserError, match="at least 1 epoch"):
        verify_front(study, s, data=None, device="cpu", epochs=0)
