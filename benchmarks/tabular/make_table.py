"""Builds the tabular benchmark: every configuration of a small MLP space trained once on digits.

Each configuration (depth x width x weight bits x membrane bits x T, uniform quantizer with the
`mean` scale, fixed parallelism) is trained with dse.training.train.train_candidate at a short fidelity and,
from the same seed, at a long one, exactly as `dse search --epochs N` would train it. Recorded per
fidelity: validation and test accuracy and the cost report on the target (cost_models.evaluate).
The table feeds replay.py, which replays Optuna samplers on it without training.

Resumable: rows are appended one at a time and configurations already in the file are skipped,
so an interrupted run loses at most the configuration in progress. Settings and versions live
in the sidecar table.meta.json; a resume with other settings is refused.

    python benchmarks/tabular/make_table.py [--out benchmarks/tabular/table.csv] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from cost_models.report import evaluate  # noqa: E402
from cost_models.targets import load_target  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.training.train import Fidelity, measure, train_candidate  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "tabular" / "table.csv"

# The space: one value per dimension per configuration (bits shared by every layer).
DIMENSIONS: dict[str, list[int]] = {
    "mlp_depth": [1, 2],
    "mlp_width": [16, 32, 64, 128],
    "weight_bits": [1, 2, 4, 8],
    "membrane_bits": [4, 8],
    "timesteps": [1, 2, 4],
}
QUANTIZER = "uniform"
QUANTIZER_OPTIONS = {"scale": "mean"}
PARALLELISM = 4  # FPGA neuron units per layer, the first value of search_spaces/default.yaml
FIDELITY_FIELDS = (
    "val_accuracy", "test_accuracy", "energy_mj", "sops", "latency_s", "mean_firing_rate", "train_seconds",
)
STATIC_FIELDS = ("memory_bytes", "lut", "ff", "bram18", "dsp")  # independent of activity
FIDELITIES = ("short", "long")


def columns() -> list[str]:
    """CSV header: the dimensions, the static costs, then every per-fidelity figure."""
    return [*DIMENSIONS, *STATIC_FIELDS, *(f"{f}_{fid}" for fid in FIDELITIES for f in FIDELITY_FIELDS)]


def configurations() -> list[dict[str, int]]:
    """Every point of the space, in a fixed order."""
    return [dict(zip(DIMENSIONS, values)) for values in itertools.product(*DIMENSIONS.values())]


def candidate_of(config: dict[str, int]) -> Candidate:
    """The Candidate of one table row (an MLP with the row's bits in every layer)."""
    depth = int(config["mlp_depth"])
    return Candidate(
        family="mlp",
        widths=(int(config["mlp_width"]),) * depth,
        weight_bits=(int(config["weight_bits"]),) * (depth + 1),
        membrane_bits=(int(config["membrane_bits"]),) * depth,
        timesteps=int(config["timesteps"]),
        quantizer=QUANTIZER,
        quantizer_options=dict(QUANTIZER_OPTIONS),
        parallelism=(PARALLELISM,) * (depth + 1),
    )


def key_of(config: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(config[d]) for d in DIMENSIONS)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What must match for a table to be resumed."""
    return {
        "dataset": "digits",
        "split_seed": args.seed,
        "train_seed": args.seed,
        "target": args.target,
        "short_epochs": args.short_epochs,
        "long_epochs": args.long_epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "quantizer": QUANTIZER,
        "quantizer_options": QUANTIZER_OPTIONS,
        "parallelism": PARALLELISM,
        "dimensions": DIMENSIONS,
        "columns": columns(),
    }



def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def done_rows(path: Path) -> list[dict[str, str]]:
    """Complete rows already in the table (a line cut short by an interruption is dropped)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    header = columns()
    return [r for r in rows if all(r.get(c) not in (None, "") for c in header)]


def score(candidate: Candidate, data: Any, fidelity: Fidelity, seed: int, target: Any) -> dict[str, Any]:
    """Train at one fidelity and return its figures plus the cost report."""
    cpu = torch.device("cpu")
    result = train_candidate(candidate, data, fidelity, seed=seed, device=cpu)
    test_accuracy = measure(result.model, data.test, fidelity.batch_size * 4)[0]
    report = evaluate(candidate, target, result.activity)
    rates = list(result.firing_rates.values())
    return {
        "val_accuracy": result.accuracy,
        "test_accuracy": test_accuracy,
        "energy_mj": report.energy_mj,
        "sops": report.sops,
        "latency_s": report.latency_s,
        "mean_firing_rate": float(np.mean(rates)) if rates else 0.0,
        "train_seconds": round(result.train_seconds, 3),
        "_report": report,
    }


def row_of(config: dict[str, int], short: dict[str, Any], long: dict[str, Any]) -> dict[str, Any]:
    report = long["_report"]
    row: dict[str, Any] = dict(config)
    row.update({f: getattr(report, f) for f in STATIC_FIELDS})
    for name, figures in (("short", short), ("long", long)):
        row.update({f"{f}_{name}": figures[f] for f in FIDELITY_FIELDS})
    return row


def build(args: argparse.Namespace) -> int:
    out = Path(args.out)
    meta_path = out.with_name(out.stem + ".meta.json")
    wanted = settings(args)
    if meta_path.exists() and out.exists():
        stored = json.loads(meta_path.read_text())["settings"]
        if stored != json.loads(json.dumps(wanted)):
            print(f"error: {out} was made with other settings ({meta_path}); use another --out", file=sys.stderr)
            return 2
    rows = done_rows(out)
    done = {key_of(r) for r in rows}
    todo = [c for c in configurations() if key_of(c) not in done]
    if args.limit is not None:
        todo = todo[: args.limit]
    print(f"{len(done)} configurations done, {len(todo)} to train", flush=True)
    torch.set_num_threads(1)
    data = load_dataset("digits", seed=args.seed)
    target = load_target(args.target)
    short_fid = Fidelity(epochs=args.short_epochs, batch_size=args.batch_size, lr=args.lr)
    long_fid = Fidelity(epochs=args.long_epochs, batch_size=args.batch_size, lr=args.lr)
    # Rewrite the complete rows (drops a cut-short last line), then append one row per configuration.
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns())
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
    write_json_atomic(meta_path, {"settings": wanted, "environment": machine(), "script": "benchmarks/tabular/make_table.py"})
    start = time.monotonic()
    with out.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns())
        for i, config in enumerate(todo, 1):
            candidate = candidate_of(config)
            short = score(candidate, data, short_fid, args.seed, target)
            long = score(candidate, data, long_fid, args.seed, target)
            writer.writerow(row_of(config, short, long))
            f.flush()
            os.fsync(f.fileno())
            print(
                f"[{i}/{len(todo)}] {candidate.summary()} val {short['val_accuracy']:.3f} -> {long['val_accuracy']:.3f} "
                f"energy {long['energy_mj']:.2e} mJ ({time.monotonic() - start:.0f} s)", flush=True,
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--target", default="fpga-small")
    parser.add_argument("--short-epochs", type=int, default=3)
    parser.add_argument("--long-epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="train at most N new configurations")
    return build(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
