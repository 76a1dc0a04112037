"""Times the default study (`dse search --target fpga-small --budget 0.6mJ`) end to end.

Reports seconds per trial (trained and screened separately), the share of candidates screened
before training, front size and total wall time, with the machine it ran on. Writes one entry
per budget into benchmarks/results/default_study.json; the README quotes its figures.

    python benchmarks/bench_default_study.py [--budget 0.6mJ] [--trials N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "default_study.json"


def machine() -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


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
        front = json.loads((out / "pareto.json").read_text())["front"]
    trained = by_status.get("trained", [])
    screened = by_status.get("screened", [])
    result = {
        "command": " ".join(["dse", *cmd[3:]]).replace(str(out), "OUT"),
        "machine": machine(),
        "trials": len(trials),
        "trained": len(trained),
        "screened": len(screened),
        "failed": len(by_status.get("failed", [])),
        "screened_share": len(screened) / max(len(trials), 1),
        "seconds_per_trained_trial_mean": statistics.mean(trained) if trained else None,
        "seconds_per_trained_trial_median": statistics.median(trained) if trained else None,
        "seconds_per_screened_trial_mean": statistics.mean(screened) if screened else None,
        "front_size": len(front),
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
