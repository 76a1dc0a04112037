"""Times the default study (`dse search --target fpga-small --budget 0.6mJ`) end to end.

Reports seconds per trial (trained, stopped early and screened separately), the share of
candidates screened before training, front size, the verification's training time and flags,
and total wall time, with the machine it ran on. Writes one entry
per budget into benchmarks/results/default_study.json; the README quotes its figures.

    python benchmarks/bench_default_study.py [--budget 0.6mJ] [--trials N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "default_study.json"



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None, help="override the study's trial count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", default="0.6mJ", help="the budget of the run (default: the main command's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "dse.cli", "search", "--target", "fpga-small", "--budget", args.budget,
               "--out", str(out), "--seed", str(args.seed), "--quiet"]
        if args.trials:
            cmd += ["--trials", str(args.trials)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall_s = time.perf_counter() - start
        study = optuna.load_study(study_name="digits-fpga-small", storage=f"sqlite:///{out / 'study.db'}")
        trials = study.get_trials(deepcopy=False)
        by_status: dict[str, list[float]] = {}
        for t in trials:
            status = t.user_attrs.get("status", t.state.name.lower())
            by_status.setdefault(status, []).append(t.duration.total_seconds() if t.duration else 0.0)
        document = json.loads((out / "pareto.json").read_text())
        front = document["front"]
        records = [v for k, v in study.user_attrs.items() if k.startswith("verification:")]
        verify_s = sum(r.get("train_seconds", 0.0) for r in records)
    trained = by_status.get("trained", [])
    screened = by_status.get("screened", [])
    result = {
        "command": " ".join(["dse", *cmd[3:]]).replace(str(out), "OUT"),
        "machine": machine(),
        "trials": len(trials),
        "trained": len(trained),
        "screened": len(screened),
        "failed": len(by_status.get("failed", [])),
        "stopped_early": len(by_status.get("stopped", [])),
        "seconds_per_stopped_trial_mean": statistics.mean(by_status["stopped"]) if by_status.get("stopped") else None,
        "screened_share": len(screened) / max(len(trials), 1),
        "seconds_per_trained_trial_mean": statistics.mean(trained) if trained else None,
        "seconds_per_trained_trial_median": statistics.median(trained) if trained else None,
        "seconds_per_screened_trial_mean": statistics.mean(screened) if screened else None,
        "front_size": len(front),
        "verified_members": len(records),
        "flagged_after_verification": len(document.get("flagged", [])),
        "verification_train_seconds": verify_s,
        "wall_seconds": wall_s,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    runs[args.budget] = result
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
