"""Is NSGA-II only 'random' at 40 trials because of its default population of 50? Replays it with
smaller populations on the tabular benchmark (same objective, budget and reference as replay.py).

    python benchmarks/tabular/nsga_population.py [--populations 8 10 16] [--seeds 20] [--trials 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import optuna  # noqa: E402

import replay  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, nargs="+", default=[8, 10, 16])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--energy-budget-mj", type=float, default=0.004)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = replay.Table.load(HERE / "table.csv")
    budgets = {"energy": args.energy_budget_mj}
    objective = replay.TableObjective(table, budgets, "short")
    feasible = [replay.objective_values(r, "short") for r in table.rows.values() if objective.feasible(r)]
    reference = replay.reference_point(replay.OBJECTIVES, replay.DIRECTIONS, budgets, feasible)
    exhaustive_hv = replay.hypervolume(feasible, replay.DIRECTIONS, reference)
    print("population | trials to 95 %: median (IQR), never | trials to 99 %: median (IQR), never")
    for population in args.populations:
        replay.make_sampler = lambda name, seed, p=population: optuna.samplers.NSGAIISampler(seed=seed, population_size=p)
        runs = {str(s): replay.replay_seed(objective, "nsga2", s, args.trials, reference, exhaustive_hv) for s in range(args.seeds)}
        cells = []
        for key, spread in replay.summarize(runs, args.trials)["trials_to"].items():
            cells.append(f"{spread['median']} ({spread['q25']}-{spread['q75']}), {spread['never_share']:.0%}")
        print(f"{population} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
