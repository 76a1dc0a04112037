"""Throughput of `dse search --jobs N` on one machine: trials per minute for jobs = 1 and 2.

Runs the static 8x8 digits study (studies/digits-fpga-small.yaml, the default study when the README's
figures were measured) at a fixed trial count into fresh storages, one run per jobs value,
and records wall time, completed trials and trials per minute with the machine. Process start
and imports count (they are part of what a user waits for).

    python benchmarks/bench_jobs.py [--trials 24] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "jobs.json"
REPO = Path(__file__).resolve().parent.parent


def run(jobs: int, trials: int, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        argv = [sys.executable, "-m", "dse.cli", "search", "--study-config", "digits-fpga-small", "--target", "fpga-small",
                "--budget", "0.6mJ", "--trials", str(trials), "--jobs", str(jobs), "--seed", str(seed), "--out", str(out),
                "--quiet", "--verify", "0"]
        start = time.monotonic()
        subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        wall_s = time.monotonic() - start
        study = optuna.load_study(study_name="digits-fpga-small", storage=f"sqlite:///{out / 'study.db'}")
        done = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    return {"jobs": jobs, "trials": done, "wall_s": round(wall_s, 1), "trials_per_min": round(60 * done / wall_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [run(j, args.trials, args.seed) for j in args.jobs]
    for r in runs:
        print(f"jobs={r['jobs']}: {r['trials']} trials in {r['wall_s']} s = {r['trials_per_min']} trials/min")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    doc.setdefault("by_trials", {})[str(args.trials)] = {"machine": machine(), "runs": runs}
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
