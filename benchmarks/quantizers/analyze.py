"""Tables of the quantizer benchmark: accuracy with 95 % CIs, and each method against its uniform twin.

Reads runs.jsonl (run.py) and writes results.json and results.md beside it. A method is paired
with the uniform run of the same data set, net, weight bits per layer, membrane bits (mfp has
none: it is paired with uniform at each membrane width), T, split and seed. Per pair: the
accuracy difference with a paired two-level bootstrap 95 % CI, the exact McNemar test on the
pooled test samples with Holm's correction over every pair of the benchmark, and the cost
model's memory, energy and effective ACs of both. A difference is called significant only when
the bootstrap CI excludes 0 and the Holm-adjusted McNemar p is below 0.05.

    PYTHONPATH=. python benchmarks/quantizers/analyze.py [--runs benchmarks/quantizers/runs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from run import CELLS, DATASETS, NETS, ROWS  # noqa: E402
from stats import bootstrap_ci, holm, mcnemar_exact, paired_bootstrap_ci  # noqa: E402

ALPHA = 0.05


def load_runs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def outcomes(runs: list[dict]) -> np.ndarray:
    """0/1 test outcomes [repeats, samples], repeats in order (test splits are equal in size)."""
    runs = sorted(runs, key=lambda r: r["repeat"])
    return np.array([[c == "1" for c in r["test_correct"]] for r in runs], dtype=np.float64)


def runs_of(runs: list[dict], dataset: str, net: str, label: str, T: int, m: int) -> list[dict]:
    """One row's runs in cell (T, m): its T, and membrane m or none kept (mfp, fp)."""
    return [r for r in runs if r["dataset"] == dataset and r["net"] == net and r["label"] == label
            and r["timesteps"] == T and r["membrane_bits"] in (m, None)]


def summaries(runs: list[dict]) -> list[dict]:
    """Per data set, net, cell and row: mean test accuracy, two-level bootstrap CI, costs."""
    out = []
    for dataset in DATASETS:
        for net in NETS:
            for cell, (T, m) in CELLS.items():
                for label, quantizer, _, _, cells in ROWS:
                    if cell not in cells:
                        continue
                    group = runs_of(runs, dataset, net, label, T, m)
                    if not group:
                        continue
                    acc = outcomes(group)
                    lo, hi = bootstrap_ci(acc)
                    out.append({
                        "dataset": dataset, "net": net, "cell": cell, "timesteps": T, "membrane_bits": m,
                        "label": label, "quantizer": quantizer, "weight_bits": group[0]["weight_bits"],
                        "repeats": len(group), "test_accuracy_mean": float(acc.mean()), "ci95": [lo, hi],
                        "run_accuracies": [r["test_accuracy"] for r in sorted(group, key=lambda r: r["repeat"])],
                        "ece_mean": statistics.mean(r["ece"] for r in group),
                        "weight_memory_bytes": group[0]["weight_memory_bytes"],
                        "memory_bytes": group[0]["memory_bytes"],
                        "energy_mj_fpga_small": statistics.mean(r["energy_mj_fpga_small"] for r in group),
                        "effective_acs": statistics.mean(r["effective_acs"] for r in group),
                        "acs": statistics.mean(r["acs"] for r in group),
                        "train_seconds_mean": statistics.mean(r["train_seconds"] for r in group),
                    })
    return out


# Pairs beyond "each method against uniform at its bits": distillation against the same algorithm
# without it, TTQ's log scales against direct ones, Q-SNN's channel gain against the authors' scale
# alone, and the two methods whose papers claim a drop against full precision, against fp.
EXTRA_BASELINES: dict[str, tuple[str, ...]] = {
    "ternary ttq log": ("ternary ttq",),
    "ternary twn+kd": ("ternary twn",),
    "ternary ttq+kd": ("ternary ttq",),
    "ternary ttq+kd log": ("ternary ttq log", "ternary ttq+kd"),
    "tawq": ("fp",),
    "qsnn": ("fp", "qsnn no gain"),
    "qsnn no gain": ("fp",),
}


def comparisons(runs: list[dict], rows: list[dict]) -> list[dict]:
    """Every non-uniform row against the uniform row of the same weight bits in the same cell, and
    against its EXTRA_BASELINES there; Holm's correction runs over all of them together."""
    out = []
    for row in rows:
        if row["quantizer"] == "uniform":
            continue
        same_cell = [t for t in rows if (t["dataset"], t["net"], t["cell"]) == (row["dataset"], row["net"], row["cell"])]
        baselines = [t for t in same_cell if t["quantizer"] == "uniform" and t["label"] != "fp"
                     and t["weight_bits"] == row["weight_bits"]][:1]
        baselines += [t for t in same_cell if t["label"] in EXTRA_BASELINES.get(row["label"], ())]
        for twin in baselines:
            out.append(_pair(runs, row, twin))
    for c, p_holm in zip(out, holm([c["mcnemar_p"] for c in out])):
        c["mcnemar_p_holm"] = p_holm
        excludes_zero = c["ci95"][0] > 0 or c["ci95"][1] < 0
        c["significant"] = bool(excludes_zero and p_holm < ALPHA)
    return out


def _pair(runs: list[dict], row: dict, twin: dict) -> dict:
    """One paired comparison on the repeats both rows have: difference, bootstrap CI, McNemar, costs."""
    T, m = row["timesteps"], row["membrane_bits"]
    a_runs, b_runs = (runs_of(runs, row["dataset"], row["net"], label, T, m) for label in (row["label"], twin["label"]))
    shared = sorted({r["repeat"] for r in a_runs} & {r["repeat"] for r in b_runs})
    a = outcomes([r for r in a_runs if r["repeat"] in shared])
    b = outcomes([r for r in b_runs if r["repeat"] in shared])
    lo, hi = paired_bootstrap_ci(a, b)
    only_a, only_b, p = mcnemar_exact(a, b)
    return {
        "dataset": row["dataset"], "net": row["net"], "cell": row["cell"], "timesteps": T, "membrane_bits": m,
        "method": row["label"], "twin": twin["label"], "weight_bits": row["weight_bits"], "repeats": len(shared),
        "difference": float(a.mean() - b.mean()), "ci95": [lo, hi],
        "method_only_correct": only_a, "twin_only_correct": only_b, "mcnemar_p": p,
        "memory_bytes": [row["memory_bytes"], twin["memory_bytes"]],
        "energy_mj_fpga_small": [row["energy_mj_fpga_small"], twin["energy_mj_fpga_small"]],
        "effective_acs": [row["effective_acs"], twin["effective_acs"]],
    }


def bits_label(bits: list) -> str:
    labels = ["fp" if b is None else str(b) for b in bits]
    if len(set(labels)) == 1:
        return labels[0]
    if len(labels) > 3 and len(set(labels[1:-1])) == 1:
        return f"{labels[0]}/{labels[1]}x{len(labels) - 2}/{labels[-1]}"
    return "/".join(labels)


def accuracy_table(rows: list[dict], dataset: str) -> str:
    columns = [(net, cell) for net in NETS for cell in CELLS]
    head = "| row | " + " | ".join(f"{net} {cell}" for net, cell in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    index = {(r["net"], r["cell"], r["label"]): r for r in rows if r["dataset"] == dataset}
    for label, *_ in ROWS:
        cells = []
        for net, cell in columns:
            r = index.get((net, cell, label))
            cells.append("" if r is None else
                         f"{r['test_accuracy_mean'] * 100:.1f} [{r['ci95'][0] * 100:.1f}, {r['ci95'][1] * 100:.1f}]")
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_table(pairs: list[dict], dataset: str) -> str:
    lines = [
        "| method | twin | net | cell | diff pts [95 % CI] | only method / only twin right | p (Holm) | significant "
        "| memory B method / twin | energy uJ method / twin | effective ACs method / twin |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in pairs:
        if c["dataset"] != dataset:
            continue
        lines.append(
            f"| {c['method']} | {c['twin']} | {c['net']} | {c['cell']} | {c['difference'] * 100:+.1f} "
            f"[{c['ci95'][0] * 100:+.1f}, {c['ci95'][1] * 100:+.1f}] | {c['method_only_correct']} / "
            f"{c['twin_only_correct']} | {c['mcnemar_p']:.2g} ({c['mcnemar_p_holm']:.2g}) | "
            f"{'yes' if c['significant'] else 'no'} | {c['memory_bytes'][0]:.0f} / {c['memory_bytes'][1]:.0f} | "
            f"{c['energy_mj_fpga_small'][0] * 1e3:.3f} / {c['energy_mj_fpga_small'][1] * 1e3:.3f} | "
            f"{c['effective_acs'][0]:.0f} / {c['effective_acs'][1]:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(HERE / "runs.jsonl"))
    args = parser.parse_args()
    runs_path = Path(args.runs)
    runs = load_runs(runs_path)
    rows = summaries(runs)
    pairs = comparisons(runs, rows)
    machine_path = runs_path.parent / "machine.json"
    machine = json.loads(machine_path.read_text()) if machine_path.exists() else {}
    epochs = ", ".join(str(e) for e in sorted({r["epochs"] for r in runs}))
    repeats = max(r["repeat"] for r in runs) + 1
    cpu_seconds = sum(r["wall_seconds"] for r in runs)
    (runs_path.parent / "results.json").write_text(json.dumps(
        {"machine": machine, "runs": len(runs), "cpu_seconds": cpu_seconds, "summaries": rows, "comparisons": pairs},
        indent=1))
    cells = ", ".join(f"{c} = T {t}, membranes {m} bits" for c, (t, m) in CELLS.items())
    significant = sum(c["significant"] for c in pairs)
    text = f"""# Quantizer types told apart: digits and digits-dvs, 3 nets, {repeats} splits

Command: `{machine.get('command', 'PYTHONPATH=. python benchmarks/quantizers/run.py')}`, then
`PYTHONPATH=. python benchmarks/quantizers/analyze.py`. {len(runs)} runs, {cpu_seconds / 3600:.2f} CPU-hours of
training and scoring ({machine.get('cpu_count', '?')} cores, {machine.get('processor', '?')}, torch
{machine.get('torch', '?')}, {machine.get('workers', '?')} workers of 1 thread).

Settings: {epochs} epochs, Adam lr 1e-2, batch 64; repeat r trains on stratified split r (60/20/20)
with seed r and is scored on that split's 360 test samples. Cells: {cells}. Nets: mlp1 =
128 hidden, mlp3 = 128-128-128, conv = 8 and 16 channels (3x3, max pooling) with a linear readout.
Accuracy: mean over the repeats' pooled test samples, in percent, with a two-level bootstrap 95 % CI
(repeats, then samples). mfp keeps no membrane and appears in A and M4 with the same runs. TaWQ
and its 8/2/8 twin are not run on mlp1, whose two layers are both edges (8-bit); there `qsnn` and
`uniform 8/1/8` have 8/8 weights, so they differ only in the neuron (tanh-quantized membrane,
rate term, per-timestep loss).

Pairs: each method against uniform at the same bits per layer, same cell, split and seed.
Also: distillation against the same ternary algorithm without it, TTQ's log scales (`scales: log`) against
TTQ's own direct ones, qsnn against qsnn without its channel
gain (`affine: none`, the authors' scale alone), and tawq and both qsnn rows against fp.
Significant = paired bootstrap CI excludes 0 and the exact McNemar p, Holm-adjusted over all
{len(pairs)} pairs, is below {ALPHA}: {significant} of {len(pairs)} are. Memory (weights + membranes +
scales), energy per inference and effective ACs (events meeting a nonzero weight) come from
cost_models.report.evaluate on fpga-small with each run's measured activity (mean over repeats).

"""
    for dataset in DATASETS:
        text += f"## {dataset}: test accuracy, % [95 % CI]\n\n{accuracy_table(rows, dataset)}\n\n"
    for dataset in DATASETS:
        text += f"## {dataset}: each method against its uniform twin\n\n{comparison_table(pairs, dataset)}\n\n"
    (runs_path.parent / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
