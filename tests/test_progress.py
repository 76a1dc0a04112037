"""The live progress bar and the per-trial lines: counts, front size and hypervolume from the study."""

from __future__ import annotations

import io

import optuna
from rich.console import Console

from dse.results.progress import ProgressBar, TrialPrinter, study_counts


def _study() -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_user_attr("dse", {"objectives": ["accuracy", "energy"]})
    study.set_user_attr("budgets", {"energy": 1.0})
    for accuracy, energy, status in [(0.9, 0.5, "trained"), (0.8, 0.2, "trained"), (0.7, 0.6, "stopped"), (0.0, 2.0, "screened")]:
        study.add_trial(optuna.trial.create_trial(
            values=[accuracy, energy], constraints={"energy": energy - 1.0},
            user_attrs={"status": status, "accuracy": accuracy, "summary": "mlp 16", "cost": {"energy_mj": energy},
                        "violations": ["energy 2 mJ > 1 mJ"] if status == "screened" else []},
        ))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"fail_reason": "boom"}))
    return study


def test_counts_by_status():
    assert study_counts(_study()) == {"complete": 4, "trained": 2, "screened": 1, "stopped": 1, "failed": 1}


def test_bar_shows_counts_front_and_hypervolume():
    study = _study()
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, markup=False)
    with ProgressBar(console, total=10, already_done=0) as bar:
        bar(study, study.trials[-1])
        bar.progress.refresh()
        text = bar.progress.tasks[0].fields["stats"]
    # front: (0.9, 0.5) and (0.8, 0.2); hypervolume against (accuracy 0, energy budget 1.0):
    # 0.9 x (1 - 0.5) + 0.8 x (0.5 - 0.2) = 0.45 + 0.24 = 0.69
    assert "screened 1" in text and "stopped 1" in text and "failed 1" in text and "front 2" in text
    assert "HV 0.69" in text
    assert bar.progress.tasks[0].completed == 4


def test_trial_lines_say_why():
    study = _study()
    out = io.StringIO()
    printer = TrialPrinter(Console(file=out, width=200, markup=False), total=10)
    for trial in study.trials:
        printer(study, trial)
    lines = out.getvalue().splitlines()
    assert "acc 0.900" in lines[0] and "stopped at acc 0.700" in lines[2]
    assert "screened" in lines[3] and "energy 2 mJ > 1 mJ" in lines[3]
    assert "failed" in lines[4] and "boom" in lines[4]


def test_study_hypervolume_is_the_last_entry_of_the_history():
    from dse.results.hypervolume import hypervolume_history, study_hypervolume

    study = _study()
    assert study_hypervolume(study) == hypervolume_history(study)[-1][1]
