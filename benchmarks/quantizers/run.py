"""Compares the six quantizer types on 8x8 digits: accuracy, calibration, memory, energy, time.

Main table: MLP 64-128-10, every type x weight bits {1, 2, 4, 8} the type accepts (plus a
full-precision uniform reference) x T {2, 4}, 3 seeds at a fixed number of epochs; membranes
8-bit where the type has one. Deep table: MLP 64-128-128-10 at T = 4 for the 1-2 bit choices,
so Q-SNN has a binary hidden layer (its first and readout layers are pinned to 8 bits; on
64-128-10 both layers are edges and Q-SNN is 8-bit throughout), next to uniform with the same
8/1/8 bits. Costs come from cost_models.report.evaluate on asic-45nm with the measured activity.

Writes benchmarks/quantizers/results.json (every run and the aggregates) and results.md.

    PYTHONPATH=. python benchmarks/quantizers/run.py [--epochs 15] [--seeds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

TARGET = "asic-45nm"
MEMBRANE_BITS = 8

# (label, quantizer, weight bits of every layer (None: per profile), options)
MAIN_ROWS: list[tuple[str, str, object, dict]] = [
    ("uniform fp", "uniform", None, {}),
    *[(f"uniform {b}", "uniform", b, {}) for b in (1, 2, 4, 8)],
    ("tawq 2", "tawq", 2, {}),
    ("tawq 2 latent", "tawq", 2, {"scale": "latent"}),
    ("qsnn 8/8", "qsnn", "edges", {}),
    *[(f"mfp {b}", "mfp", b, {}) for b in (1, 2, 4, 8)],
    ("ternary twn", "ternary", 2, {"algorithm": "twn"}),
    ("ternary ttq", "ternary", 2, {"algorithm": "ttq"}),
    ("ternary twn+kd", "ternary", 2, {"algorithm": "twn", "distill": True}),
    ("ternary ttq+kd", "ternary", 2, {"algorithm": "ttq", "distill": True}),
    *[(f"sigmoid {b}", "sigmoid", b, {}) for b in (1, 2, 4, 8)],
]
DEEP_ROWS: list[tuple[str, str, object, dict]] = [
    ("uniform fp", "uniform", None, {}),
    ("uniform 1", "uniform", 1, {}),
    ("uniform 8/1/8", "uniform", (8, 1, 8), {}),
    ("uniform 2", "uniform", 2, {}),
    ("qsnn 8/1/8", "qsnn", "edges", {}),
    ("tawq 2", "tawq", 2, {}),
    ("tawq 2 latent", "tawq", 2, {"scale": "latent"}),
    ("mfp 1", "mfp", 1, {}),
    ("mfp 2", "mfp", 2, {}),
    ("ternary twn", "ternary", 2, {"algorithm": "twn"}),
    ("ternary ttq+kd", "ternary", 2, {"algorithm": "ttq", "distill": True}),
    ("sigmoid 1", "sigmoid", 1, {}),
    ("sigmoid 2", "sigmoid", 2, {}),
]


def candidate_for(quantizer: str, bits: object, options: dict, widths: tuple[int, ...], timesteps: int):
    from search_spaces.candidate import Candidate
    from search_spaces.quantizer_types import get_profile

    profile = get_profile(quantizer)
    n = len(widths) + 1
    if bits == "edges":
        weight_bits = tuple(profile.layer_weight_bits(i, n)[0] for i in range(n))
    elif isinstance(bits, tuple):
        weight_bits = bits
    else:
        weight_bits = (bits,) * n
    membrane = (MEMBRANE_BITS,) * len(widths) if profile.membrane_bits else (None,) * len(widths)
    return Candidate(
        family="mlp", widths=widths, weight_bits=weight_bits, membrane_bits=membrane,
        timesteps=timesteps, quantizer=quantizer, quantizer_options=options,
    )


_DATA = None


def run_job(job: dict) -> dict:
    """One training run in a 1-thread worker: accuracy, ECE, costs, seconds per epoch."""
    global _DATA
    import torch

    torch.set_num_threads(1)
    from cost_models.report import evaluate
    from cost_models.targets import load_target
    from dse.training.data import load_dataset
    from dse.training.train import Fidelity, train_candidate

    if _DATA is None:
        _DATA = load_dataset("digits", seed=0)
    cand = candidate_for(job["quantizer"], job["bits"], job["options"], tuple(job["widths"]), job["timesteps"])
    fidelity = Fidelity(epochs=job["epochs"])
    start = time.perf_counter()
    result = train_candidate(cand, _DATA, fidelity, seed=job["seed"], device=torch.device("cpu"))
    wall = time.perf_counter() - start
    report = evaluate(cand, load_target(TARGET), result.activity)
    return {
        **{k: job[k] for k in ("table", "label", "quantizer", "options", "widths", "timesteps", "seed", "epochs")},
        "weight_bits": list(cand.weight_bits),
        "membrane_bits": list(cand.membrane_bits),
        "accuracy": result.accuracy,
        "ece": result.ece,
        "seconds_per_epoch": result.train_seconds / result.epochs,
        "setup_seconds": wall - result.train_seconds,  # incl. a distillation teacher trained in this call
        "weight_memory_bytes": report.weight_memory_bytes,
        "memory_bytes": report.memory_bytes,
        "energy_mj": report.energy_mj,
        "firing_rates": result.firing_rates,
    }


def jobs(epochs: int, seeds: int) -> list[dict]:
    out = []
    for table, rows, widths, steps in (("main", MAIN_ROWS, (128,), (2, 4)), ("deep", DEEP_ROWS, (128, 128), (4,))):
        for label, quantizer, bits, options in rows:
            for T in steps:
                for seed in range(seeds):
                    out.append(dict(table=table, label=label, quantizer=quantizer, bits=bits, options=options,
                                    widths=list(widths), timesteps=T, seed=seed, epochs=epochs))
    # the slowest first, so two workers finish together
    out.sort(key=lambda j: -(10 if j["label"] == "sigmoid 8" else 3 if j["quantizer"] == "tawq" else 1) * j["timesteps"])
    return out


def aggregate(runs: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["table"], r["label"], r["timesteps"]), []).append(r)
    rows = []
    for (table, label, T), rs in groups.items():
        accs = [r["accuracy"] for r in rs]
        rows.append({
            "table": table, "label": label, "timesteps": T, "seeds": len(rs),
            "weight_bits": rs[0]["weight_bits"], "membrane_bits": rs[0]["membrane_bits"],
            "accuracy_mean": statistics.mean(accs),
            "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "accuracy_min": min(accs), "accuracy_max": max(accs),
            "ece_mean": statistics.mean(r["ece"] for r in rs),
            "weight_memory_bytes": rs[0]["weight_memory_bytes"],
            "memory_bytes": rs[0]["memory_bytes"],
            "energy_mj_mean": statistics.mean(r["energy_mj"] for r in rs),
            "seconds_per_epoch_mean": statistics.mean(r["seconds_per_epoch"] for r in rs),
        })
    return rows


def bits_label(bits: list) -> str:
    labels = ["fp" if b is None else str(b) for b in bits]
    return labels[0] if len(set(labels)) == 1 else "/".join(labels)


def markdown(rows: list[dict], table: str, order: list[str]) -> str:
    lines = [
        "| type | w bits | T | acc mean | acc std (min-max) | ECE | weight mem B | total mem B | energy uJ | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = sorted((r for r in rows if r["table"] == table), key=lambda r: (order.index(r["label"]), r["timesteps"]))
    for r in rows:
        lines.append(
            f"| {r['label']} | {bits_label(r['weight_bits'])} | {r['timesteps']} | {r['accuracy_mean']:.3f} | "
            f"{r['accuracy_std']:.3f} ({r['accuracy_min']:.3f}-{r['accuracy_max']:.3f}) | {r['ece_mean']:.3f} | "
            f"{r['weight_memory_bytes']:.0f} | {r['memory_bytes']:.0f} | {r['energy_mj_mean'] * 1e3:.3f} | "
            f"{r['seconds_per_epoch_mean']:.3f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    all_jobs = jobs(args.epochs, args.seeds)
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        runs = []
        for i, r in enumerate(pool.imap_unordered(run_job, all_jobs), 1):
            runs.append(r)
            print(f"[{i}/{len(all_jobs)}] {r['table']} {r['label']} T={r['timesteps']} seed={r['seed']} "
                  f"acc={r['accuracy']:.3f} {r['seconds_per_epoch']:.3f} s/epoch", flush=True)
    wall = time.perf_counter() - start
    rows = aggregate(runs)
    import torch

    machine = {
        "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(), "torch": torch.__version__,
        "workers": args.workers, "threads_per_worker": 1,
    }
    command = f"PYTHONPATH=. python benchmarks/quantizers/run.py --epochs {args.epochs} --seeds {args.seeds} --workers {args.workers}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"command": command, "machine": machine, "wall_seconds": wall, "target": TARGET,
         "membrane_bits": MEMBRANE_BITS, "epochs": args.epochs, "rows": rows, "runs": runs}, indent=1))
    main_order = [r[0] for r in MAIN_ROWS]
    deep_order = [r[0] for r in DEEP_ROWS]
    text = f"""# Quantizer types on 8x8 digits

Command: `{command}` ({wall / 60:.1f} min wall).
Machine: {machine['cpu_count']} CPU cores ({machine['processor']}), torch {machine['torch']}, {args.workers} worker
processes with 1 thread each. Data: sklearn digits, stratified 60/20/20 split (seed 0), validation
accuracy after {args.epochs} epochs (Adam lr 1e-2, batch 64), {args.seeds} seeds. Membranes {MEMBRANE_BITS}-bit where
the type has one (mfp has none). Costs: cost_models.report.evaluate on {TARGET} with the measured
activity (energy per inference, mean over seeds; memory = weights + membranes + per-channel
scales). s/epoch is training time only (a distillation teacher's training is not in it).

## MLP 64-128-10, T = 2 and 4

{markdown(rows, "main", main_order)}

## MLP 64-128-128-10, T = 4 (Q-SNN with a binary hidden layer)

{markdown(rows, "deep", deep_order)}
"""
    (out / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
