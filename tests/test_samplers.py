"""Samplers of `--sampler` and the tabular replay objective of benchmarks/tabular/replay.py."""

import csv
import json
import importlib.util
import sys
from pathlib import Path

import optuna
import pytest

from dse.errors import UserError
from dse.search.samplers import SAMPLERS
from dse.search.samplers import make_sampler

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "benchmarks" / "tabular" / "table.csv"


def _load_replay():
    spec = importlib.util.spec_from_file_location("tabular_replay", REPO / "benchmarks" / "tabular" / "replay.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tabular_replay"] = module
    spec.loader.exec_module(module)
    return module


replay = _load_replay()


@pytest.fixture(scope="module")
def objective():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return replay.TableObjective(replay.Table.load(TABLE), {"energy": replay.ENERGY_BUDGET_MJ})


def test_every_accepted_sampler_name_builds_its_optuna_sampler():
    kinds = {
        "tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler,
        "nsga3": optuna.samplers.NSGAIIISampler, "gp": optuna.samplers.GPSampler,
        "random": optuna.samplers.RandomSampler,
    }
    assert set(SAMPLERS) == set(kinds)
    for name in SAMPLERS:
        assert isinstance(make_sampler(name, 0), kinds[name])
    with pytest.raises(UserError, match="accepted: tpe, nsga2, nsga3, gp, random"):
        make_sampler("cmaes", 0)


def test_table_covers_the_whole_space_it_declares(objective):
    table = objective.table
    assert table.complete()
    assert len(table.rows) == 2 * 4 * 4 * 2 * 3  # depth x width x weight bits x membrane bits x T


def test_replay_objective_returns_the_tables_figures_and_constraints(objective):
    with TABLE.open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["mlp_depth"] == "2" and r["mlp_width"] == "64"
                   and r["weight_bits"] == "2" and r["membrane_bits"] == "8" and r["timesteps"] == "4")
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial({"mlp_depth": 2, "mlp_width": 64, "weight_bits": 2, "membrane_bits": 8, "timesteps": 4})
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.values == [float(row["val_accuracy_short"]), float(row["energy_mj_short"])]
    budget = replay.ENERGY_BUDGET_MJ
    assert trial.constraints["energy"] == pytest.approx((float(row["energy_mj_short"]) - budget) / budget)
    assert trial.constraints["lut_capacity"] == pytest.approx((float(row["lut"]) - 53200) / 53200)
    assert set(trial.constraints) == {"energy", "lut_capacity", "ff_capacity", "bram_capacity", "dsp_capacity"}


@pytest.mark.parametrize("name, trials", [("random", 12), ("tpe", 15), ("nsga2", 55), ("nsga3", 55), ("gp", 11)])
def test_same_seed_gives_the_same_trials(objective, name, trials):
    # nsga: past its first population of 50; gp and tpe: past their 10 random start-up trials
    first = [t.params for t in replay.run_study(objective, name, 3, trials).trials]
    again = [t.params for t in replay.run_study(objective, name, 3, trials).trials]
    other = [t.params for t in replay.run_study(objective, name, 4, trials).trials]
    assert first == again
    assert first != other


def test_hypervolume_curve_never_decreases_and_ends_below_the_exhaustive_front(objective):
    table = objective.table
    feasible = [replay.objective_values(r, "short") for r in table.rows.values() if objective.feasible(r)]
    reference = replay.reference_point(replay.OBJECTIVES, replay.DIRECTIONS, objective.budgets, feasible)
    exhaustive = replay.hypervolume(feasible, replay.DIRECTIONS, reference)
    curve = replay.hypervolume_curve(replay.run_study(objective, "random", 0, 30), reference)
    assert len(curve) == 30
    assert all(b >= a for a, b in zip(curve, curve[1:]))
    assert 0 < curve[-1] <= exhaustive


def test_trials_to_reach_and_spread_count_by_hand():
    assert replay.trials_to_reach([0.5, 0.94, 0.95, 1.0], 0.95) == 3
    assert replay.trials_to_reach([0.5, 0.9], 0.95) is None
    s = replay.spread([4, 2, None, 8])
    assert s["never_share"] == 0.25
    assert (s["q25"], s["median"], s["max"]) == (2, 4, None)


def test_replay_run_resumes_stored_seeds_and_writes_json_and_plot(tmp_path):
    out, png = tmp_path / "replay.json", tmp_path / "replay.png"
    common = ["--samplers", "random,tpe", "--trials", "12", "--out", str(out), "--plot", str(png)]
    assert replay.main(["--seeds", "2", *common]) == 0
    first = json.loads(out.read_text())
    assert sorted(first["runs"]["tpe"]) == ["0", "1"]
    assert replay.main(["--seeds", "3", *common]) == 0
    second = json.loads(out.read_text())
    assert sorted(second["runs"]["tpe"]) == ["0", "1", "2"]
    assert second["runs"]["tpe"]["0"] == first["runs"]["tpe"]["0"]
    assert second["samplers"]["random"]["seeds"] == 3
    assert len(second["samplers"]["tpe"]["median_ratio_curve"]) == 12
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    corr = second["rank_correlation"]["all_configurations"]["val_short_vs_val_long"]
    assert corr["n"] == 192 and -1 <= corr["spearman"] <= 1
