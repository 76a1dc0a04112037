"""Runs the README's main command (`dse search --target fpga-small --budget 0.6mJ`, the default study)
end to end and checks what the default study must show (issue 16):

- at least 15 % of its trials screened before training or over a budget or capacity after it;
- a verified front of at least 5 members spanning at least 10x in energy and 5 points of accuracy;
- at most 5 minutes of wall time for the whole command (data generation and verification included).

Also reports the study's data set (generation seconds, event rate, input events per sample at each
of the space's T), seconds per trial (trained, stopped early and screened separately), the
verification's training time, and the machine with its load. Writes one entry per budget into
benchmarks/results/default_study.json (the README quotes it) and exits 1 when a check fails.

    python benchmarks/bench_default_study.py [--budget 0.6mJ] [--trials N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import machine  # noqa: E402
from dse.results.front import is_feasible  # noqa: E402
from dse.search.study_files import load_study_config  # noqa: E402
from search_spaces.space import SearchSpace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "default_study.json"
MIN_SCREENED_OR_INFEASIBLE = 0.15  # share of the study's trials
MIN_FRONT = 5  # verified front members
MIN_ENERGY_SPAN = 10.0  # highest / lowest energy on the verified front
MIN_ACCURACY_SPAN = 0.05  # highest - lowest verified accuracy on the front
MAX_WALL_S = 300.0  # the whole command


def member_figures(member: dict[str, Any]) -> tuple[float, float]:
    """(accuracy, energy_mj) of a verified front member: the means over its verification seeds."""
    values = member.get("verified_values") or member["values"]
    accuracy = member.get("verified_accuracy_mean", values["accuracy"])
    return float(accuracy), float(values["energy"])


def checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each requirement: the measured value and its limit (at_least or at_most)."""
    return {
        "screened_or_infeasible_share": {"value": result["screened_or_infeasible_share"], "at_least": MIN_SCREENED_OR_INFEASIBLE},
        "verified_front_size": {"value": result["front_size"], "at_least": MIN_FRONT},
        "front_energy_span": {"value": result["front_energy_span"], "at_least": MIN_ENERGY_SPAN},
        "front_accuracy_span": {"value": result["front_accuracy_span"], "at_least": MIN_ACCURACY_SPAN},
        "wall_seconds": {"value": result["wall_seconds"], "at_most": MAX_WALL_S},
    }


def passed(check: dict[str, Any]) -> bool:
    value = check["value"]
    if value is None:
        return False
    return value >= check["at_least"] if "at_least" in check else value <= check["at_most"]


def dataset_figures(name: str, seed: int, timesteps: tuple[int, ...]) -> dict[str, Any]:
    """Seconds to generate (or read) the study's data set, and for an event set its event rate and the
    input events per sample the space's T see (frames OR-ed to T: layer 0's events, dse/training/datasets/frames.py)."""
    from dse.training.data import load_dataset
    from dse.training.datasets.frames import rebin_frames

    start = time.perf_counter()
    data = load_dataset(name, seed=seed)
    figures: dict[str, Any] = {"name": name, "load_seconds": time.perf_counter() - start, "input_kind": data.input_kind,
                               "sample_shape": [*(() if data.frames is None else (data.frames,)), *data.input_shape]}
    if data.input_kind == "events":
        frames = data.train.x.transpose(0, 1)  # [F, N, C, H, W]
        figures["event_rate"] = data.event_rate()
        figures["input_events_per_sample"] = {
            str(t): float(rebin_frames(frames, t).sum()) / len(data.train) for t in timesteps
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None, help="override the study's trial count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", default="0.6mJ", help="the budget of the run (default: the main command's)")
    parser.add_argument("--keep", metavar="DIR", help="write the run's output (study.db, pareto.json) to DIR, a new folder, "
                        "for `dse plot` / `dse report`; default: a temporary folder")
    args = parser.parse_args()
    if args.keep and Path(args.keep).exists():
        parser.error(f"--keep {args.keep}: exists; give a new folder")
    config = load_study_config(None)
    study_name = config.name
    data = dataset_figures(config.dataset, args.seed, SearchSpace.load(config.space).timesteps)
    started_at = machine()  # the load average before the run: whether others shared the cores
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "out"
        cmd = [sys.executable, "-m", "dse.cli", "search", "--target", "fpga-small", "--budget", args.budget,
               "--out", str(out), "--seed", str(args.seed), "--quiet"]
        if args.trials:
            cmd += ["--trials", str(args.trials)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall_s = time.perf_counter() - start
        load_after = os.getloadavg()
        study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{out / 'study.db'}")
        trials = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        by_status: dict[str, list[float]] = {}
        for t in study.get_trials(deepcopy=False):
            status = t.user_attrs.get("status", t.state.name.lower())
            by_status.setdefault(status, []).append(t.duration.total_seconds() if t.duration else 0.0)
        infeasible_after_training = [t.number for t in trials if t.user_attrs.get("status") != "screened" and not is_feasible(t)]
        document = json.loads((out / "pareto.json").read_text())
        records = [v for k, v in study.user_attrs.items() if k.startswith("verification:")]
        verify_s = sum(r.get("train_seconds", 0.0) for r in records)
    front = [member_figures(m) for m in document["front"]]
    trained = by_status.get("trained", [])
    screened = by_status.get("screened", [])
    accuracies, energies = [a for a, _ in front], [e for _, e in front]
    result = {
        "study": study_name,
        "dataset": data,
        "command": " ".join(["dse", *cmd[3:]]).replace(str(out), "OUT"),
        "machine": started_at,
        "load_average_1min_at_end": load_after[0],
        "trials": len(trials),
        "trained": len(trained),
        "screened": len(screened),
        "infeasible_after_training": len(infeasible_after_training),
        "failed": len(by_status.get("failed", [])),
        "stopped_early": len(by_status.get("stopped", [])),
        "screened_share": len(screened) / max(len(trials), 1),
        "screened_or_infeasible_share": (len(screened) + len(infeasible_after_training)) / max(len(trials), 1),
        "seconds_per_trained_trial_mean": statistics.mean(trained) if trained else None,
        "seconds_per_trained_trial_median": statistics.median(trained) if trained else None,
        "seconds_per_stopped_trial_mean": statistics.mean(by_status["stopped"]) if by_status.get("stopped") else None,
        "seconds_per_screened_trial_mean": statistics.mean(screened) if screened else None,
        "search_front": document.get("search_front"),
        "front_size": len(front),
        "front": [{"trial": m["trial"], "accuracy": a, "energy_mj": e} for m, (a, e) in zip(document["front"], front)],
        "front_energy_span": max(energies) / min(energies) if energies and min(energies) > 0 else None,
        "front_accuracy_span": max(accuracies) - min(accuracies) if accuracies else None,
        "verified_members": len(records),
        "flagged_after_verification": len(document.get("flagged", [])),
        "verification_train_seconds": verify_s,
        "wall_seconds": wall_s,
    }
    result["checks"] = {name: {**check, "passed": passed(check)} for name, check in checks(result).items()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    runs = {budget: run for budget, run in runs.items() if run.get("study") == study_name}  # entries of an older default study go
    runs[args.budget] = result
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    for name, check in result["checks"].items():
        limit = f">= {check['at_least']}" if "at_least" in check else f"<= {check['at_most']}"
        print(f"{'PASS' if check['passed'] else 'FAIL'}  {name}: {check['value']} ({limit})")
    return 0 if all(c["passed"] for c in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
