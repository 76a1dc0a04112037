"""Times screen() (the analytic lower-bound cost check made before any training) per candidate.

Draws N candidates from search_spaces/default.yaml with Optuna's RandomSampler (8x8 digits
input, 10 classes, as the digits study), then times screen(candidate, target, budgets) for
each: a cold pass with every cost-model cache cleared first, and warm passes (the caches a long
search builds up). Reports mean microseconds per candidate and candidates per second, with the
machine, into benchmarks/results/screening.json; docs/cost-models.md quotes the figures.

    python benchmarks/bench_screening.py [--candidates N] [--repeats R] [--seed S] [--target NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "screening.json"

import optuna  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from cost_models import screen  # noqa: E402
from cost_models.network import layer_specs_from_key  # noqa: E402
from cost_models.ops import axis_fanout, conv_fanout_map, mean_conv_fanout  # noqa: E402
from cost_models.report import layer_static  # noqa: E402
from cost_models.targets import load_target  # noqa: E402
from search_spaces.space import SearchSpace  # noqa: E402

INPUT_SHAPE = (1, 8, 8)  # scikit-learn digits, as the digits study (studies/digits-fpga-small.yaml)
NUM_CLASSES = 10
BUDGETS = {"energy": 0.6}  # the studies' budget (0.6 mJ)


def clear_caches() -> None:
    for cached in (layer_specs_from_key, layer_static, axis_fanout, mean_conv_fanout, conv_fanout_map):
        cached.cache_clear()


def draw(n: int, seed: int) -> list:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace.load("default")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial, INPUT_SHAPE, NUM_CLASSES))
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return out


def time_pass(candidates: list, target) -> list[float]:
    per = []
    for c in candidates:
        start = time.perf_counter()
        screen(c, target, BUDGETS)
        per.append(time.perf_counter() - start)
    return per



def summary(seconds: list[float]) -> dict[str, float]:
    mean = statistics.mean(seconds)
    return {
        "mean_us_per_candidate": mean * 1e6,
        "median_us_per_candidate": statistics.median(seconds) * 1e6,
        "p95_us_per_candidate": sorted(seconds)[int(0.95 * (len(seconds) - 1))] * 1e6,
        "candidates_per_s": 1.0 / mean,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000, help="random candidates to draw (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="warm passes over the same candidates (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="RandomSampler seed")
    parser.add_argument("--target", default="fpga-small", help="target to screen against (default fpga-small)")
    args = parser.parse_args()

    info = machine()  # before the work, so the load average is the machine's, not ours
    target = load_target(args.target)
    candidates = draw(args.candidates, args.seed)
    families = {f: sum(c.family == f for c in candidates) for f in ("mlp", "conv")}
    clear_caches()
    cold = time_pass(candidates, target)
    warm = [t for _ in range(args.repeats) for t in time_pass(candidates, target)]
    feasible = sum(screen(c, target, BUDGETS).feasible for c in candidates)
    result = {
        "command": f"python benchmarks/bench_screening.py --candidates {args.candidates} --repeats {args.repeats} "
        f"--seed {args.seed} --target {args.target}",
        "machine": info,
        "space": "search_spaces/default.yaml",
        "sampler": f"optuna RandomSampler(seed={args.seed})",
        "target": args.target,
        "budgets": BUDGETS,
        "candidates": len(candidates),
        "distinct_candidates": len({json.dumps(c.to_dict(), sort_keys=True) for c in candidates}),
        "families": families,
        "feasible_share": feasible / len(candidates),
        "cold": summary(cold),
        "warm": summary(warm),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
