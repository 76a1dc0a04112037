"""Replays Optuna samplers on the tabular benchmark: hypervolume against trials, without training.

The objective looks each suggested configuration up in table.csv (made by make_table.py):
objectives accuracy (validation, short fidelity) and energy_mj, constraints set with
trial.set_constraint exactly as dse/search.py sets them (an energy budget plus the target's
capacities, (value - limit) / limit). Each sampler, built by dse.search.samplers.make_sampler, runs over
many seeds; the hypervolume of its feasible trials after every trial is divided by the
hypervolume of the exhaustive front (every feasible table row), using dse.results.hypervolume with the
project's reference point (accuracy 0, energy at the budget). Reported per sampler: trials to
reach 95 % (and 99 %) of the exhaustive hypervolume, median and quartiles over seeds and the
share of seeds that never reach it, plus the rank correlation of short- against long-fidelity
accuracy. Results go to benchmarks/results/sampler_replay.json and a PNG of the median curves.

    python benchmarks/tabular/replay.py [--seeds 20] [--trials 40] [--samplers random,tpe,...]

Every seed's curve is stored as soon as it is replayed; a later run with the same settings (table,
budget, fidelity, trials) keeps the stored seeds and replays only the missing ones, so the slow
GP sampler can run on its own (--samplers gp) and an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import optuna  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from cost_models.report import QUANTITY_FIELDS  # noqa: E402
from cost_models.screen import CAPACITY_CONSTRAINTS  # noqa: E402
from cost_models.targets import load_target  # noqa: E402
from dse.results.hypervolume import hypervolume, reference_point  # noqa: E402
from dse.search.samplers import make_sampler  # noqa: E402

TABLE = REPO / "benchmarks" / "tabular" / "table.csv"
RESULTS = REPO / "benchmarks" / "results" / "sampler_replay.json"
PLOT = REPO / "benchmarks" / "results" / "sampler_replay.png"
SAMPLERS = ("random", "tpe", "nsga2", "nsga3", "gp")
OBJECTIVES = ("accuracy", "energy")
DIRECTIONS = ("maximize", "minimize")
TARGET_FRACTIONS = (0.95, 0.99)
ENERGY_BUDGET_MJ = 0.004  # leaves 28 % of the table infeasible (the costliest configurations)


@dataclass(frozen=True)
class Table:
    """The tabular benchmark: its dimensions, settings and one row of figures per configuration."""

    dimensions: dict[str, list[int]]
    settings: dict[str, Any]
    rows: dict[tuple[int, ...], dict[str, float]]

    @classmethod
    def load(cls, path: Path = TABLE) -> "Table":
        """Read table.csv and its sidecar table.meta.json (which names the dimensions)."""
        meta = json.loads(path.with_name(path.stem + ".meta.json").read_text())
        dimensions = {k: [int(v) for v in vs] for k, vs in meta["settings"]["dimensions"].items()}
        rows: dict[tuple[int, ...], dict[str, float]] = {}
        with path.open(newline="") as f:
            for raw in csv.DictReader(f):
                row = {k: float(v) for k, v in raw.items()}
                rows[tuple(int(row[d]) for d in dimensions)] = row
        return cls(dimensions, meta["settings"], rows)

    def row(self, config: dict[str, Any]) -> dict[str, float]:
        """The figures of one configuration (a KeyError names a configuration the table lacks)."""
        return self.rows[tuple(int(config[d]) for d in self.dimensions)]

    def complete(self) -> bool:
        return len(self.rows) == int(np.prod([len(v) for v in self.dimensions.values()]))


def objective_values(row: dict[str, float], fidelity: str) -> list[float]:
    """(accuracy, energy_mj) of a row at a fidelity ('short' or 'long')."""
    return [row[f"val_accuracy_{fidelity}"], row[f"energy_mj_{fidelity}"]]


def constraint_values(row: dict[str, float], fidelity: str, budgets: dict[str, float], capacities: dict[str, float]) -> dict[str, float]:
    """The search's constraints on a table row: budgets, then FPGA capacities; <= 0 is feasible."""
    out: dict[str, float] = {}
    for name, limit in budgets.items():
        column = QUANTITY_FIELDS[name]
        value = row[f"{column}_{fidelity}"] if f"{column}_{fidelity}" in row else row[column]
        out[name] = (value - limit) / limit
    for cname, (qname, cap_key) in CAPACITY_CONSTRAINTS.items():
        out[cname] = (row[QUANTITY_FIELDS[qname]] - capacities[cap_key]) / capacities[cap_key]
    return out


class TableObjective:
    """Optuna objective: suggest the table's dimensions (define-by-run), return the stored figures."""

    def __init__(self, table: Table, budgets: dict[str, float], fidelity: str = "short") -> None:
        self.table = table
        self.budgets = dict(budgets)
        self.fidelity = fidelity
        self.capacities = load_target(table.settings["target"]).capacities

    def __call__(self, trial: optuna.Trial) -> list[float]:
        config = {d: trial.suggest_categorical(d, values) for d, values in self.table.dimensions.items()}
        row = self.table.row(config)
        for key, value in constraint_values(row, self.fidelity, self.budgets, self.capacities).items():
            trial.set_constraint(key, value)
        return objective_values(row, self.fidelity)

    def feasible(self, row: dict[str, float]) -> bool:
        return all(v <= 0 for v in constraint_values(row, self.fidelity, self.budgets, self.capacities).values())


def run_study(objective: TableObjective, sampler: str, seed: int, trials: int) -> optuna.Study:
    """One seeded replay of a sampler (in-memory storage)."""
    study = optuna.create_study(directions=list(DIRECTIONS), sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=trials)
    return study


def hypervolume_curve(study: optuna.Study, reference: list[float]) -> list[float]:
    """Hypervolume of the feasible trials up to each trial, in trial order."""
    points: list[list[float]] = []
    curve = []
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values()):
            points.append(list(t.values))
        curve.append(hypervolume(points, DIRECTIONS, reference) if points else 0.0)
    return curve


def trials_to_reach(ratios: list[float], fraction: float) -> int | None:
    """1-based trial count at which the ratio first reaches `fraction`; None if it never does."""
    for i, r in enumerate(ratios, 1):
        if r >= fraction - 1e-12:
            return i
    return None


def spread(counts: list[int | None]) -> dict[str, Any]:
    """Median and quartiles of trials-to-target over seeds; a seed that never reaches it counts as infinite."""
    values = np.array([np.inf if c is None else c for c in counts], dtype=float)
    q25, median, q75 = (float(np.quantile(values, q, method="lower")) for q in (0.25, 0.5, 0.75))
    show = lambda v: None if np.isinf(v) else int(v)  # noqa: E731
    reached = values[np.isfinite(values)]
    return {
        "median": show(median), "q25": show(q25), "q75": show(q75),
        "min": show(values.min()), "max": show(values.max()),
        "never_share": float(np.mean(np.isinf(values))),
        "mean_of_reached": float(reached.mean()) if reached.size else None,
    }


def front_mask(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows of (accuracy up, energy down); ties are all kept."""
    import moocore

    return np.asarray(moocore.is_nondominated(points, maximise=[True, False], keep_weakly=True))


def rank_correlations(table: Table, objective: TableObjective) -> dict[str, Any]:
    """How well short-fidelity accuracy ranks against the long (verified) one, overall and on the front."""
    from scipy.stats import kendalltau, spearmanr

    rows = list(table.rows.values())
    short = np.array([r["val_accuracy_short"] for r in rows])
    long = np.array([r["val_accuracy_long"] for r in rows])
    test_long = np.array([r["test_accuracy_long"] for r in rows])

    def corr(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        rho, p_rho = spearmanr(a, b)
        tau, p_tau = kendalltau(a, b)
        return {"n": int(len(a)), "spearman": float(rho), "spearman_p": float(p_rho), "kendall": float(tau), "kendall_p": float(p_tau)}

    feasible_short = [i for i, r in enumerate(rows) if objective.feasible(r)]
    long_objective = TableObjective(table, objective.budgets, "long")
    feasible_long = [i for i, r in enumerate(rows) if long_objective.feasible(r)]
    pts_short = np.array([objective_values(rows[i], "short") for i in feasible_short])
    pts_long = np.array([objective_values(rows[i], "long") for i in feasible_long])
    short_front = [feasible_short[i] for i in np.flatnonzero(front_mask(pts_short))]
    long_front = {feasible_long[i] for i in np.flatnonzero(front_mask(pts_long))}
    kept = [i for i in short_front if i in long_front]
    dims = list(table.dimensions)
    return {
        "all_configurations": {
            "val_short_vs_val_long": corr(short, long),
            "val_short_vs_test_long": corr(short, test_long),
        },
        "short_front": {
            "val_short_vs_val_long": corr(short[short_front], long[short_front]) if len(short_front) > 2 else None,
            "size": len(short_front),
            "long_front_size": len(long_front),
            "members_on_long_front": len(kept),
            "members": [
                {
                    **{d: int(rows[i][d]) for d in dims},
                    "val_accuracy_short": rows[i]["val_accuracy_short"], "val_accuracy_long": rows[i]["val_accuracy_long"],
                    "test_accuracy_long": rows[i]["test_accuracy_long"], "energy_mj_short": rows[i]["energy_mj_short"],
                    "on_long_front": i in long_front,
                }
                for i in sorted(short_front, key=lambda i: rows[i]["energy_mj_short"])
            ],
        },
    }



def replay_seed(objective: TableObjective, sampler: str, seed: int, trials: int, reference: list[float], exhaustive_hv: float) -> dict[str, Any]:
    """One seeded replay: hypervolume ratio after every trial, distinct configurations, seconds."""
    start, cpu_start = time.perf_counter(), time.process_time()
    study = run_study(objective, sampler, seed, trials)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "ratio_curve": [round(hv / exhaustive_hv, 6) for hv in hypervolume_curve(study, reference)],
        "distinct_configurations": len({tuple(sorted(t.params.items())) for t in study.trials}),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),  # this process's CPU time: less affected by other jobs
    }


def summarize(runs: dict[str, dict[str, Any]], trials: int) -> dict[str, Any]:
    """Trials to each target (median, quartiles, never share) and median/quartile curves over seeds."""
    curves = [r["ratio_curve"] for r in runs.values()]
    ratios = np.array(curves)
    return {
        "seeds": len(runs),
        "trials_to": {f"{int(f * 100)}pct": spread([trials_to_reach(c, f) for c in curves]) for f in TARGET_FRACTIONS},
        "median_ratio_curve": np.median(ratios, axis=0).round(6).tolist(),
        "q25_ratio_curve": np.quantile(ratios, 0.25, axis=0).round(6).tolist(),
        "q75_ratio_curve": np.quantile(ratios, 0.75, axis=0).round(6).tolist(),
        "distinct_configurations_median": float(np.median([r["distinct_configurations"] for r in runs.values()])),
        "seconds_per_trial_mean": float(sum(r["seconds"] for r in runs.values()) / (len(runs) * trials)),
        "cpu_seconds_per_trial_mean": (
            float(sum(r["cpu_seconds"] for r in runs.values()) / (len(runs) * trials))
            if all("cpu_seconds" in r for r in runs.values()) else None
        ),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = ["-", "--", ":", "-.", (0, (5, 1))]
    drawn: dict[str, list[float]] = {}
    for i, (name, r) in enumerate(results["samplers"].items()):
        x = np.arange(1, len(r["median_ratio_curve"]) + 1)
        same = [other for other, curve in drawn.items() if curve == r["median_ratio_curve"]]
        label = f"{name} (= {same[0]})" if same else name  # NSGA's first population is the random sampler's
        (line,) = ax.plot(x, r["median_ratio_curve"], label=label, linestyle=styles[i % len(styles)])
        drawn[name] = r["median_ratio_curve"]
        ax.fill_between(x, r["q25_ratio_curve"], r["q75_ratio_curve"], color=line.get_color(), alpha=0.15)
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=0.8)
    s = results["settings"]
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume / exhaustive front's")
    counts = sorted({r["seeds"] for r in results["samplers"].values()})
    seeds = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    ax.set_title(f"{s['configurations']} configurations, {seeds} seeds per sampler: median and quartiles", fontsize=10)
    ax.set_ylim(max(0.0, min(min(r["q25_ratio_curve"][9:] or [0.5]) for r in results["samplers"].values()) - 0.05), 1.005)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = Table.load(Path(args.table))
    if not table.complete():
        print(f"warning: {args.table} holds {len(table.rows)} configurations, not the whole space", file=sys.stderr)
    budgets = {"energy": args.energy_budget_mj}
    objective = TableObjective(table, budgets, args.fidelity)
    feasible = [objective_values(r, args.fidelity) for r in table.rows.values() if objective.feasible(r)]
    reference = reference_point(OBJECTIVES, DIRECTIONS, budgets, feasible)
    exhaustive_hv = hypervolume(feasible, DIRECTIONS, reference)
    settings = {
        "table": os.path.relpath(args.table, REPO), "configurations": len(table.rows), "fidelity": args.fidelity,
        "objectives": ["val_accuracy_" + args.fidelity, "energy_mj_" + args.fidelity], "budgets": budgets,
        "target": table.settings["target"], "trials": args.trials, "reference_point": reference,
    }
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    runs: dict[str, dict[str, Any]] = previous.get("runs", {}) if previous.get("settings") == settings else {}
    results: dict[str, Any] = {
        "settings": settings,
        "exhaustive": {
            "hypervolume": exhaustive_hv, "feasible_configurations": len(feasible),
            "front_size": int(front_mask(np.array(feasible)).sum()),
        },
        "rank_correlation": rank_correlations(table, objective),
        "machine": machine(),
    }
    for name in args.samplers:
        stored = runs.setdefault(name, {})
        for seed in range(args.first_seed, args.seeds):
            if str(seed) in stored:
                continue  # resumed: this seed was replayed by an earlier run with the same settings
            stored[str(seed)] = replay_seed(objective, name, seed, args.trials, reference, exhaustive_hv)
            print(f"{name} seed {seed}: final ratio {stored[str(seed)]['ratio_curve'][-1]:.4f} ({stored[str(seed)]['seconds']:.1f} s)", flush=True)
            save(out, results, runs, args.trials)
    save(out, results, runs, args.trials)
    if args.plot:
        plot(results, Path(args.plot))
    return results


def save(out: Path, results: dict[str, Any], runs: dict[str, dict[str, Any]], trials: int) -> None:
    """Summaries plus every seed's curve (so a later run resumes), written atomically."""
    results["samplers"] = {k: summarize(runs[k], trials) for k in SAMPLERS if runs.get(k)}
    results["runs"] = {k: runs[k] for k in SAMPLERS if runs.get(k)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, out)


def parse_samplers(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in SAMPLERS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown sampler {bad[0] if bad else text!r}; accepted: {', '.join(SAMPLERS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(TABLE))
    parser.add_argument("--samplers", type=parse_samplers, default=list(SAMPLERS))
    parser.add_argument("--seeds", type=int, default=20, help="replay seeds 0..N-1")
    parser.add_argument("--first-seed", type=int, default=0, help="skip seeds below this one (to split a slow sampler over processes)")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--energy-budget-mj", type=float, default=ENERGY_BUDGET_MJ)
    parser.add_argument("--fidelity", choices=("short", "long"), default="short")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--plot", default=str(PLOT))
    results = run(parser.parse_args(argv))
    print("\n".join(markdown_table(results)))
    return 0


def markdown_table(results: dict[str, Any]) -> list[str]:
    """The per-sampler table of docs/search-efficiency.md, from a results dict."""
    trials = results["settings"]["trials"]

    def cell(t: dict[str, Any]) -> str:
        show = lambda v: f">{trials}" if v is None else str(v)  # noqa: E731
        iqr = show(t["q25"]) if t["q25"] == t["q75"] else f"{show(t['q25'])}-{show(t['q75'])}"
        return f"{show(t['median'])} ({iqr}) | {t['never_share']:.0%}"

    lines = [
        "| sampler | seeds | trials to 95 %: median (IQR) | never | trials to 99 %: median (IQR) | never "
        f"| median HV ratio at 10 / 20 / {trials} trials | distinct configs in {trials} | ms per trial (wall / CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["samplers"].items():
        curve = r["median_ratio_curve"]
        at = " / ".join(f"{curve[n - 1]:.3f}" for n in (10, 20, trials) if n <= len(curve))
        cpu = "-" if r.get("cpu_seconds_per_trial_mean") is None else f"{r['cpu_seconds_per_trial_mean'] * 1000:.1f}"
        lines.append(
            f"| {name} | {r['seeds']} | {cell(r['trials_to']['95pct'])} | {cell(r['trials_to']['99pct'])} | {at} "
            f"| {r['distinct_configurations_median']:g} | {r['seconds_per_trial_mean'] * 1000:.1f} / {cpu} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
