"""What Optuna's own tools see of a dse study: named metrics with units, and a front (study.best_trials)
equal to dse's front before verification, with stopped, screened and fp reference trials marked apart."""

import io
import json
import random
from wsgiref.util import setup_testing_defaults

import optuna
import pytest

from dse.results.front import (
    MARKS, MARKS_ATTR, NOT_DEPLOYABLE, STOPPED_EARLY, front_document, is_feasible, mark_constraints, pareto_front,
    reference_front,
)
from dse.search import early_stop
from dse.search.runner import run_search
from dse.search.study import metric_names, open_study
from dse.training.train import Fidelity


def _numbers(trials):
    return sorted(t.number for t in trials)


def _trial(accuracy, memory, status="trained", deployable=True, budget=-0.5, marks=True):
    constraints = {"memory": budget}
    if marks:
        constraints.update(mark_constraints(stopped=status == "stopped", deployable=deployable))
    return optuna.trial.create_trial(
        values=[accuracy, memory],
        user_attrs={"status": status, "accuracy": accuracy, "deployable": deployable,
                    early_stop.CURVE_ATTR: {"2": accuracy, "3": accuracy}},
        constraints=constraints,
    )


# ---------------------------------------------------------------- metric names


def test_metric_names_carry_units():
    assert metric_names(("accuracy", "energy", "memory", "sops", "latency", "lut", "ff", "bram", "dsp")) == [
        "accuracy", "energy_mj", "memory_bytes", "sops", "latency_s", "lut", "ff", "bram18", "dsp"]


def test_a_new_study_names_its_metrics_and_marks_its_trials(make_settings):
    study = open_study(make_settings(study_name="n", objectives=("accuracy", "energy", "memory")))
    assert study.metric_names == ["accuracy", "energy_mj", "memory_bytes"]
    assert study.user_attrs[MARKS_ATTR] == list(MARKS)


def test_an_older_study_gets_names_but_keeps_its_unmarked_trials(make_settings):
    settings = make_settings(study_name="old")
    old = optuna.create_study(storage=settings.storage_url, study_name="old", directions=["maximize", "minimize"])
    old.set_user_attr("dse", settings.fingerprint())  # made by a dse that named nothing and marked nothing
    old.add_trial(_trial(0.9, 100.0, marks=False))
    study = open_study(settings)
    assert study.metric_names == ["accuracy", "energy_mj"]
    # its completed trials have no mark constraints: new ones with them would give GPSampler unequal constraint lists
    assert MARKS_ATTR not in study.user_attrs


def test_a_joined_study_without_completed_trials_adopts_the_marks(make_settings):
    settings = make_settings(study_name="early")
    empty = optuna.create_study(storage=settings.storage_url, study_name="early", directions=["maximize", "minimize"])
    empty.set_user_attr("dse", settings.fingerprint())
    assert open_study(settings).user_attrs[MARKS_ATTR] == list(MARKS)


def test_names_a_study_already_has_are_kept(make_settings):
    settings = make_settings(study_name="named")
    study = open_study(settings)
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["acc", "E"])
    assert open_study(settings).metric_names == ["acc", "E"]


# ---------------------------------------------------------------- the front, with constructed trials


def test_best_trials_equals_the_search_front_for_every_kind_of_trial():
    """Random studies of marked trials of every kind, ties included: Optuna's front is dse's front."""
    rng = random.Random(0)
    for _ in range(30):
        study = optuna.create_study(directions=["maximize", "minimize"])
        study.set_user_attr(MARKS_ATTR, list(MARKS))
        for _ in range(rng.randint(1, 25)):
            status = rng.choice(["trained", "trained", "stopped", "screened"])
            budget = rng.choice([-0.5, 0.0, 0.3]) if status != "screened" else 0.5
            study.add_trial(_trial(rng.choice([0.5, 0.7, 0.9, 1.0]), float(rng.choice([1, 2, 4, 8])), status,
                                   deployable=rng.random() < 0.7, budget=budget))
        assert _numbers(study.best_trials) == _numbers(pareto_front(study, verified=False))


def test_without_the_marks_optuna_would_put_an_fp_reference_on_the_front():
    """Why the marks: an fp reference point that dominates a deployable trial (the old, unmarked trials)."""
    def study_of(marks):
        study = optuna.create_study(directions=["maximize", "minimize"])
        study.add_trial(_trial(0.80, 1.0, marks=marks))
        study.add_trial(_trial(0.90, 2.0, marks=marks))
        study.add_trial(_trial(0.95, 1.5, deployable=False, marks=marks))  # dominates trial 1
        return study

    unmarked, marked = study_of(False), study_of(True)
    assert _numbers(pareto_front(unmarked, verified=False)) == _numbers(pareto_front(marked, verified=False)) == [0, 1]
    assert _numbers(unmarked.best_trials) == [0, 2]  # dse's front is unchanged for such studies; Optuna's differs
    assert _numbers(marked.best_trials) == [0, 1]
    assert _numbers(reference_front(marked)) == _numbers(reference_front(unmarked)) == [2]  # marks are no budget
    assert all(is_feasible(t) for t in marked.trials)


# ---------------------------------------------------------------- a real search


def test_a_real_search_shows_optuna_the_front_dse_shows(make_settings, digits):
    """Screened (memory budget), stopped (a perfect cheap reference), fp reference and trained trials."""
    settings = make_settings(study_name="view", reference_fp=True, objectives=("accuracy", "memory"),
                             budgets={"memory": 5000.0}, trials=10, fidelity=Fidelity(epochs=3))
    study = open_study(settings)
    # a perfect, cheap, deployable trial that stops every trial costing 1000 B or more after epoch 2
    study.add_trial(_trial(1.0, 1000.0))
    # an fp reference point better than every trial the search can train: Optuna's front without the marks
    study.add_trial(_trial(0.99, 500.0, deployable=False))
    run_search(settings, digits, "cpu", study=study)

    searched = [t for t in study.get_trials() if t.number >= 2]
    statuses = {t.user_attrs["status"] for t in searched}
    assert {"stopped", "screened", "trained"} <= statuses
    assert any(t.user_attrs["deployable"] is False for t in searched)
    for t in searched:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.constraints[STOPPED_EARLY] == (1.0 if t.user_attrs["status"] == "stopped" else 0.0)
        assert t.constraints[NOT_DEPLOYABLE] == (0.0 if t.user_attrs["deployable"] else 1.0)
        assert (t.user_attrs["status"] == "screened") == (t.constraints["memory"] > 0)
        assert is_feasible(t) == (t.user_attrs["status"] != "screened")  # the marks are no budget

    front = _numbers(pareto_front(study, verified=False))
    assert _numbers(study.best_trials) == front
    assert 0 in front and 1 not in front
    assert _numbers(reference_front(study)) == [1]
    document = front_document(study, settings.storage_url)
    assert document["search_front"] == front and document["optuna_marks"] is True
    assert document["metric_names"] == ["accuracy", "memory_bytes"]


# ---------------------------------------------------------------- optuna-dashboard's API


def _get(app, path):
    """GET path from the WSGI app, without a server."""
    environ = {"PATH_INFO": path, "wsgi.errors": io.StringIO()}
    setup_testing_defaults(environ)
    status = {}
    body = b"".join(app(environ, lambda code, headers, exc_info=None: status.setdefault("code", code)))
    assert status["code"].startswith("200"), (status, environ["wsgi.errors"].getvalue()[-2000:])
    return json.loads(body)


def test_optuna_dashboard_api_names_the_metrics(make_settings):
    optuna_dashboard = pytest.importorskip("optuna_dashboard")
    settings = make_settings(study_name="dash", objectives=("accuracy", "energy"))
    study = open_study(settings)
    study.add_trial(_trial(0.9, 1.0))
    study.add_trial(_trial(0.8, 2.0, status="stopped"))
    app = optuna_dashboard.wsgi(settings.storage_url)
    listing = _get(app, "/api/studies")
    studies = listing.get("study_summaries", listing.get("studies"))  # 0.21 still says study_summaries
    study_id = next(s["study_id"] for s in studies if s["study_name"] == "dash")
    detail = _get(app, f"/api/studies/{study_id}")
    assert detail["objective_names"] == ["accuracy", "energy_mj"]
    # each trial's kind travels as its user attr 'status' (optuna-dashboard's trial table can filter on it)
    statuses = {t["number"]: {a["key"]: a["value"] for a in t["user_attrs"]}["status"] for t in detail["trials"]}
    assert statuses == {0: "trained", 1: "stopped"}
