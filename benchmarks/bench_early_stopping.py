"""Early stopping and front verification on the static digits study (studies/digits-fpga-small.yaml).

For each seed, runs that study twice in a temporary SQLite storage, with early stopping
off and on (dse/early_stop.py), on 1 torch thread, and records wall and CPU seconds, trials
stopped, epochs trained and the hypervolume of the search's front (dse/hypervolume.py, two
reference points: the project's rule, accuracy 0 and the 0.6 mJ budget, which mostly rewards
the best accuracy, and a tight one, accuracy 0 and TIGHT_ENERGY_MJ, which also rewards cheap members).
Then retrains each front of the early-stopping runs with dse/verify.py (3 seeds x 30 epochs by
default) and records its CPU cost and the members flagged. Screening's saving is estimated from
benchmarks/results/default_study.json. Writes benchmarks/results/early_stopping.json.

    python benchmarks/bench_early_stopping.py [--seeds 0 1 2] [--trials 40] [--verify-seeds 3] [--verify-epochs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "early_stopping.json"
DEFAULT_STUDY_RESULTS = REPO / "benchmarks" / "results" / "default_study.json"
TIGHT_ENERGY_MJ = 0.05  # tight hypervolume reference: above every trained candidate's energy seen on digits (<= 0.04 mJ)

import optuna  # noqa: E402
import torch  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from cost_models.targets import load_target  # noqa: E402
from dse.search import early_stop  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.results.hypervolume import hypervolume, reference_point  # noqa: E402
from dse.results.front import pareto_front  # noqa: E402
from dse.search.study import SearchSettings, directions  # noqa: E402
from dse.search.runner import run_search  # noqa: E402
from dse.search.study_files import load_study_config  # noqa: E402
from dse.search.verify import verify_front  # noqa: E402
from search_spaces.space import SearchSpace  # noqa: E402



def default_settings(folder: Path, seed: int, trials: int | None, early_stopping: bool) -> SearchSettings:
    config = load_study_config("digits-fpga-small")
    name = f"es-{int(early_stopping)}-seed{seed}"
    return SearchSettings(
        study_name=name, storage_url=f"sqlite:///{folder / (name + '.db')}", space=SearchSpace.load(config.space),
        target=load_target(config.target), budgets=config.budgets, objectives=config.objectives,
        trials=trials or config.trials, timeout_s=None, fidelity=config.fidelity, sampler=config.sampler,
        seed=seed, dataset=config.dataset, early_stopping=early_stopping,
    )


def front_figures(study: optuna.Study, settings: SearchSettings) -> dict[str, object]:
    """The search's front (before verification) and its hypervolume under both reference points."""
    front = pareto_front(study, verified=False)
    points = [list(t.values) for t in front]
    dirs = directions(settings.objectives)
    project_ref = reference_point(settings.objectives, dirs, settings.budgets, points)
    tight_ref = [0.0 if o == "accuracy" else TIGHT_ENERGY_MJ for o in settings.objectives]
    return {
        "front": [{"trial": t.number, **dict(zip(settings.objectives, t.values)), "summary": t.user_attrs.get("summary")} for t in front],
        "front_size": len(front),
        "hypervolume": hypervolume(points, dirs, project_ref),
        "hypervolume_reference": project_ref,
        "hypervolume_tight": hypervolume(points, dirs, tight_ref) if settings.objectives == ("accuracy", "energy") else None,
        "hypervolume_tight_reference": tight_ref,
    }


def run_one(folder: Path, data, seed: int, trials: int | None, early_stopping: bool) -> tuple[dict[str, object], optuna.Study, SearchSettings]:
    settings = default_settings(folder, seed, trials, early_stopping)
    wall, cpu = time.perf_counter(), time.process_time()
    study = run_search(settings, data, "cpu")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    trials_ = study.get_trials(deepcopy=False)
    status = [t.user_attrs.get("status", t.state.name.lower()) for t in trials_]
    stopped_epochs = [t.user_attrs.get("epochs") for t in trials_ if t.user_attrs.get("status") == "stopped"]
    result = {
        "seed": seed,
        "early_stopping": early_stopping,
        "trials": len(trials_),
        "trained": status.count("trained"),
        "stopped": status.count("stopped"),
        "screened": status.count("screened"),
        "failed": status.count("failed"),
        "stopped_at_epoch": {str(e): stopped_epochs.count(e) for e in sorted(set(stopped_epochs))},
        "epochs_trained": sum(t.user_attrs.get("epochs", 0) for t in trials_),
        "train_seconds": sum(t.user_attrs.get("train_seconds", 0.0) for t in trials_),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        **front_figures(study, settings),
    }
    return result, study, settings


def verification(study: optuna.Study, settings: SearchSettings, data, seeds: int, epochs: int) -> dict[str, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    members = verify_front(study, settings, data, "cpu", seeds=seeds, epochs=epochs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    short = {t.number: t.values for t in pareto_front(study, verified=False)}
    return {
        "seed": settings.seed,
        "members": len(members),
        "flagged": [m.trial for m in members if m.flagged],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "per_member": [
            {"trial": m.trial, "search_accuracy": short[m.trial][0], "verified_accuracy_mean": m.accuracy_mean,
             "verified_accuracy_std": m.accuracy_std, "search_energy_mj": short[m.trial][1] if len(short[m.trial]) > 1 else None,
             "verified_values": m.values_mean, "dominated_by": list(m.dominated_by), "feasible": m.feasible,
             "train_seconds": m.train_seconds}
            for m in members
        ],
    }


def screening_estimate() -> dict[str, object] | None:
    """Training time screening avoided in the recorded tight-budget run: screened trials x (mean
    trained-trial seconds - mean screened-trial seconds). An estimate: screened candidates were never trained."""
    if not DEFAULT_STUDY_RESULTS.is_file():
        return None
    runs = json.loads(DEFAULT_STUDY_RESULTS.read_text())
    out = {}
    for budget, r in runs.items():
        trained_s, screened_s = r.get("seconds_per_trained_trial_mean"), r.get("seconds_per_screened_trial_mean")
        saved = r["screened"] * (trained_s - screened_s) if r.get("screened") and trained_s and screened_s else 0.0
        out[budget] = {"trials": r["trials"], "screened": r["screened"], "estimated_seconds_saved": saved,
                       "wall_seconds": r["wall_seconds"], "estimated_share_of_wall": saved / (r["wall_seconds"] + saved)}
    return out


def summarise(runs: list[dict[str, object]], flag: bool) -> dict[str, float]:
    rs = [r for r in runs if r["early_stopping"] is flag]
    return {k: statistics.fmean(r[k] for r in rs) for k in
            ("cpu_seconds", "wall_seconds", "train_seconds", "epochs_trained", "stopped", "front_size", "hypervolume", "hypervolume_tight")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=None, help="override the study's 40 trials")
    parser.add_argument("--verify-seeds", type=int, default=3)
    parser.add_argument("--verify-epochs", type=int, default=30)
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--first-checkpoint", type=int, default=early_stop.FIRST_CHECKPOINT,
                        help="first epoch the rule checks (a variant of the shipped rule)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="result file (default benchmarks/results/early_stopping.json)")
    args = parser.parse_args()
    early_stop.FIRST_CHECKPOINT = args.first_checkpoint
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.process_time()
    runs, verifications = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            data = load_dataset("digits", seed=seed)
            for flag in (False, True):
                result, study, settings = run_one(Path(tmp), data, seed, args.trials, flag)
                runs.append(result)
                print(json.dumps({k: v for k, v in result.items() if k != "front"}), flush=True)
                if flag and not args.no_verify:
                    verifications.append(verification(study, settings, data, args.verify_seeds, args.verify_epochs))
                    print(json.dumps(verifications[-1]), flush=True)
    off, on = summarise(runs, False), summarise(runs, True)
    document = {
        "command": "python benchmarks/bench_early_stopping.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "study": "studies/digits-fpga-small.yaml",
        "rule": {"margin": early_stop.MARGIN, "checkpoints": list(early_stop.checkpoint_epochs(load_study_config("digits-fpga-small").fidelity.epochs))},
        "runs": runs,
        "mean_without_early_stopping": off,
        "mean_with_early_stopping": on,
        "cpu_time_saved_share": 1 - on["cpu_seconds"] / off["cpu_seconds"],
        "hypervolume_ratio": on["hypervolume"] / off["hypervolume"],
        "hypervolume_tight_ratio": on["hypervolume_tight"] / off["hypervolume_tight"],
        "verification": verifications,
        "verification_settings": None if args.no_verify else {"seeds": args.verify_seeds, "epochs": args.verify_epochs},
        "screening": screening_estimate(),
        "benchmark_cpu_seconds": time.process_time() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: document[k] for k in ("mean_without_early_stopping", "mean_with_early_stopping", "cpu_time_saved_share",
                                                  "hypervolume_ratio", "hypervolume_tight_ratio")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
