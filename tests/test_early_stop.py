"""Early stopping: the rule on hand-made curves, and stopped trials in a real study."""

import optuna
import pytest
import torch

from dse.search import early_stop
from dse.search.early_stop import EarlyStopper, Reference, checkpoint_epochs, dominating_reference, references
from dse.training.model import build_model
from dse.results.front import pareto_front
from dse.search.study import open_study
from dse.search.runner import run_search
from dse.training.train import Fidelity, StopTraining
from search_spaces.candidate import Candidate

CHEAP = Reference(0, (0.001,), {2: 0.95, 4: 0.96, 6: 0.97})
PEAK_THEN_FALL = Reference(1, (0.001,), {2: 0.95, 4: 0.70, 6: 0.72})  # a 1-2 bit max|w| run


def test_checkpoints_start_at_the_first_and_double_before_the_last_epoch():
    assert checkpoint_epochs(6, first=2) == (2, 4)
    assert checkpoint_epochs(6, first=1) == (1, 2, 4)
    assert checkpoint_epochs(20, first=2) == (2, 4, 8, 16)
    assert checkpoint_epochs(2, first=2) == ()
    assert checkpoint_epochs(1) == ()


def test_reference_accuracy_is_its_worst_from_that_epoch_on():
    assert PEAK_THEN_FALL.accuracy_from(2) == 0.70
    assert PEAK_THEN_FALL.accuracy_from(6) == 0.72
    assert CHEAP.accuracy_from(4) == 0.96
    assert CHEAP.accuracy_from(3) is None  # not measured at epoch 3: no comparison


def test_a_trial_beaten_at_equal_epochs_by_a_cheaper_one_is_stopped():
    assert dominating_reference([CHEAP], [0.002], epoch=2, accuracy=0.90, margin=0.02) is CHEAP
    assert dominating_reference([CHEAP], [0.001], epoch=2, accuracy=0.90, margin=0.02) is CHEAP  # equal cost counts


def test_a_trial_within_the_margin_is_kept():
    assert dominating_reference([CHEAP], [0.002], epoch=2, accuracy=0.94, margin=0.02) is None
    assert dominating_reference([CHEAP], [0.002], epoch=4, accuracy=0.945, margin=0.02) is None


def test_no_comparable_trial_never_stops():
    assert dominating_reference([], [0.002], epoch=2, accuracy=0.1) is None
    assert dominating_reference([CHEAP], [0.0005], epoch=2, accuracy=0.1) is None  # the trial may be cheaper
    two_costs = Reference(2, (0.001, 4096.0), {2: 0.99, 6: 0.99})
    assert dominating_reference([two_costs], [0.002, 2048.0], epoch=2, accuracy=0.1) is None  # more memory


def test_a_reference_that_later_collapses_does_not_stop_anyone():
    assert dominating_reference([PEAK_THEN_FALL], [0.002], epoch=2, accuracy=0.90) is None
    assert dominating_reference([PEAK_THEN_FALL], [0.002], epoch=2, accuracy=0.60) is PEAK_THEN_FALL


def test_the_largest_lead_is_named():
    strong = Reference(3, (0.001,), {2: 0.99, 6: 0.99})
    assert dominating_reference([CHEAP, strong], [0.002], epoch=2, accuracy=0.5) is strong


def _reference_trial(accuracy, memory_bytes, status="trained", feasible=True, curve=None):
    return optuna.trial.create_trial(
        values=[accuracy, memory_bytes],
        user_attrs={"status": status, "accuracy": accuracy,
                    early_stop.CURVE_ATTR: curve if curve is not None else {"1": accuracy, "2": accuracy, "4": accuracy}},
        constraints={"memory": -0.5 if feasible else 0.5},
    )


def test_references_are_complete_feasible_fully_trained_trials_with_a_curve():
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trial(_reference_trial(0.9, 100.0))
    study.add_trial(_reference_trial(0.9, 100.0, status="stopped"))
    study.add_trial(_reference_trial(0.9, 100.0, feasible=False))
    study.add_trial(_reference_trial(0.9, 100.0, curve={}))
    refs = references(study.get_trials(), ["accuracy", "memory"])
    assert [r.number for r in refs] == [0]
    assert refs[0].costs == (100.0,)
    assert refs[0].accuracy_by_epoch == {1: 0.9, 2: 0.9, 4: 0.9}


MLP = Candidate.from_dict({
    "family": "mlp", "widths": [16], "weight_bits": [4, 4], "membrane_bits": [6], "timesteps": 1,
    "quantizer": "uniform", "quantizer_options": {"scale": "mean"}, "parallelism": [4, 4],
    "input_shape": [1, 8, 8], "num_classes": 10,
})


def test_stopper_measures_the_model_and_raises_only_when_dominated(digits):
    torch.manual_seed(0)
    model = build_model(MLP)  # untrained: near chance, far below a perfect reference
    perfect = Reference(0, (1.0,), {2: 1.0, 4: 1.0})
    useless = Reference(1, (1.0,), {2: 0.0, 4: 0.0})
    keep = EarlyStopper([useless], (2.0,), ("memory",), digits.val, checkpoints=(2, 4))
    keep(1, model)
    assert keep.curve == {}  # not a checkpoint: nothing measured
    keep(2, model)
    assert list(keep.curve) == [2] and 0.0 <= keep.curve[2] < 0.5
    stop = EarlyStopper([perfect], (2.0,), ("memory",), digits.val, checkpoints=(2, 4))
    with pytest.raises(StopTraining, match="trial 0"):
        stop(2, model)


ONE_CANDIDATE_SPACE = """
families:
  mlp: {depth: [1], widths: [16]}
weight_bits: [4]
membrane_bits: [6]
timesteps: [1]
parallelism: [4]
quantizers:
  uniform: {scale: [mean]}
"""


def test_stopped_trials_stay_complete_dominated_and_off_the_front(tmp_path, make_settings, digits):
    space = tmp_path / "one.yaml"
    space.write_text(ONE_CANDIDATE_SPACE)
    settings = make_settings(study_name="es", space=str(space), objectives=("accuracy", "memory"), trials=2,
                             fidelity=Fidelity(epochs=4))
    study = open_study(settings)
    study.add_trial(_reference_trial(1.0, 1.0, curve={str(e): 1.0 for e in (1, 2, 4)}))  # perfect and tiny
    run_search(settings, digits, "cpu", study=study)
    stopped = [t for t in study.get_trials() if t.user_attrs.get("status") == "stopped"]
    assert len(stopped) == 1
    first = checkpoint_epochs(4)[0]
    for t in stopped:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.user_attrs["epochs"] == first
        assert list(t.user_attrs[early_stop.CURVE_ATTR]) == [str(first)]
        assert "trial 0" in t.user_attrs["stop_reason"]
        assert t.values[0] < 1.0 - early_stop.MARGIN and t.values[1] >= 1.0  # dominated by the reference
    assert [t.number for t in pareto_front(study, verified=False)] == [0]


def test_without_early_stopping_every_trial_trains_fully(make_settings, digits):
    settings = make_settings(study_name="off", objectives=("accuracy", "memory"), trials=2,
                             fidelity=Fidelity(epochs=3), early_stopping=False)
    study = open_study(settings)
    study.add_trial(_reference_trial(1.0, 1.0))
    run_search(settings, digits, "cpu", study=study)
    trained = [t for t in study.get_trials() if t.number > 0]
    assert [t.user_attrs["status"] for t in trained] == ["trained"]
    assert all(t.user_attrs["epochs"] == 3 and early_stop.CURVE_ATTR not in t.user_attrs for t in trained)
