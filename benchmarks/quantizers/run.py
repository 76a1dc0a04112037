"""Trains the benchmark grid that tells the quantizer types apart (issue 15): every run, resumable.

Data: `digits` (static 8x8) and `digits-dvs` (events, 2x20x20). Nets: MLPs with 1 and 3 hidden
layers of 128 and a conv net (8 and 16 channels, 3x3, max pooling after each block). Three
cells of (T, membrane bits): A = (4, 8) with every row, M4 = (4, 4) with the rows that keep a
membrane, T8 = (8, 8) with the rows where time matters. Every run has a uniform twin with the
same weight bits per layer, membrane bits, T, split and seed, so analyze.py can pair them sample
by sample. Repeat r uses split seed r and training seed r. Accuracy is on the held-out test
split (20 %, never seen in training); costs come from cost_models.report.evaluate with the
run's measured activity.

    PYTHONPATH=. python benchmarks/quantizers/run.py [--epochs 12] [--repeats 5] [--workers 2]
    PYTHONPATH=. python benchmarks/quantizers/analyze.py

Each finished run is appended to runs.jsonl at once; a rerun skips the runs already there
(the key is the whole configuration), so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

DATASETS = ("digits", "digits-dvs")
INPUT = {"digits": ((1, 8, 8), "static"), "digits-dvs": ((2, 20, 20), "events")}
NETS: dict[str, tuple[str, tuple[int, ...], tuple[str, ...]]] = {
    "mlp1": ("mlp", (128,), ()),
    "mlp3": ("mlp", (128, 128, 128), ()),
    "conv": ("conv", (8, 16), ("max", "max")),
}
# cell -> (timesteps, membrane bits)
CELLS: dict[str, tuple[int, int]] = {"A": (4, 8), "M4": (4, 4), "T8": (8, 8)}
EDGE_BITS = 8  # Q-SNN's and TaWQ's first and readout layers

# (label, quantizer, weight bits, options, cells). Weight bits: an int for every layer, None for
# full precision, ("edges", k) for 8-bit first and readout layers with k-bit hidden layers.
ROWS: list[tuple[str, str, object, dict, tuple[str, ...]]] = [
    ("fp", "uniform", None, {}, ("A",)),
    ("uniform 1", "uniform", 1, {}, ("A", "M4", "T8")),
    ("uniform 2", "uniform", 2, {}, ("A", "M4", "T8")),
    ("uniform 4", "uniform", 4, {}, ("A", "M4", "T8")),
    ("uniform 8/1/8", "uniform", ("edges", 1), {}, ("A", "M4", "T8")),
    ("uniform 8/2/8", "uniform", ("edges", 2), {}, ("A", "M4", "T8")),
    ("qsnn", "qsnn", ("edges", 1), {}, ("A", "M4", "T8")),
    ("qsnn no gain", "qsnn", ("edges", 1), {"affine": "none"}, ("A", "M4", "T8")),
    ("tawq", "tawq", ("edges", 2), {}, ("A", "M4", "T8")),
    ("mfp 1", "mfp", 1, {}, ("A", "M4", "T8")),
    ("mfp 2", "mfp", 2, {}, ("A", "M4", "T8")),
    ("mfp 4", "mfp", 4, {}, ("A", "M4", "T8")),
    ("ternary twn", "ternary", 2, {"algorithm": "twn"}, ("A", "M4", "T8")),
    ("ternary ttq", "ternary", 2, {"algorithm": "ttq", "scales": "direct"}, ("A", "M4", "T8")),
    ("ternary ttq log", "ternary", 2, {"algorithm": "ttq", "scales": "log"}, ("A", "M4", "T8")),
    ("ternary twn+kd", "ternary", 2, {"algorithm": "twn", "distill": True}, ("A",)),
    ("ternary ttq+kd", "ternary", 2, {"algorithm": "ttq", "distill": True, "scales": "direct"}, ("A",)),
    ("ternary ttq+kd log", "ternary", 2, {"algorithm": "ttq", "distill": True, "scales": "log"}, ("A",)),
    ("sigmoid 1", "sigmoid", 1, {}, ("A",)),
    ("sigmoid 2", "sigmoid", 2, {}, ("A", "M4", "T8")),
    ("sigmoid 4", "sigmoid", 4, {}, ("A",)),
]


def layer_bits(bits: object, n_weight_layers: int) -> tuple[int | None, ...]:
    """Per-layer weight bits of a row on a net with n weight layers."""
    if isinstance(bits, tuple):
        return (EDGE_BITS,) + (bits[1],) * (n_weight_layers - 2) + (EDGE_BITS,)
    return (bits,) * n_weight_layers


def applies(bits: object, net: str) -> bool:
    """Rows that mean something on this net: TaWQ (and its twin) need a hidden weight layer, which a
    1-hidden MLP lacks (both its layers are edges, so TaWQ would be 8-bit uniform there); Q-SNN on
    it keeps 8/8 weights and its quantized membrane and rate term, so it and its 8/8 twin stay."""
    if net == "mlp1" and isinstance(bits, tuple) and bits[1] == 2:
        return False
    return True


def candidate_for(job: dict):
    from search_spaces.candidate import Candidate

    family, widths, pooling = NETS[job["net"]]
    shape, kind = INPUT[job["dataset"]]
    return Candidate(  # jobs() gives mfp and fp membrane_bits None
        family=family, widths=widths, weight_bits=tuple(job["weight_bits"]),
        membrane_bits=(job["membrane_bits"],) * len(widths),
        timesteps=job["timesteps"], quantizer=job["quantizer"], quantizer_options=job["options"],
        pooling=pooling, input_shape=shape, input_kind=kind,
    )


def jobs(epochs: int, repeats: int) -> list[dict]:
    """The grid's runs; mfp and fp keep no membrane: one run per T serves both membrane cells (A and M4)."""
    out = []
    seen = set()
    for dataset in DATASETS:
        for net, (_, widths, _) in NETS.items():
            n = len(widths) + 1
            for label, quantizer, bits, options, cells in ROWS:
                if not applies(bits, net):
                    continue
                for cell in cells:
                    T, m = CELLS[cell]
                    membrane = None if quantizer == "mfp" or label == "fp" else m
                    for r in range(repeats):
                        job = dict(dataset=dataset, net=net, label=label, quantizer=quantizer, options=options,
                                   weight_bits=list(layer_bits(bits, n)), membrane_bits=membrane, timesteps=T,
                                   repeat=r, epochs=epochs)
                        key = job_key(job)
                        if key not in seen:
                            seen.add(key)
                            out.append(job)
    # the slowest first, so the two workers finish together
    out.sort(key=lambda j: -cost_guess(j))
    return out


def job_key(job: dict) -> str:
    """The configuration that identifies a run (resuming skips a key already in runs.jsonl)."""
    fields = ("dataset", "net", "label", "quantizer", "options", "weight_bits", "membrane_bits", "timesteps",
              "repeat", "epochs")
    return json.dumps({k: job[k] for k in fields}, sort_keys=True)


def cost_guess(job: dict) -> float:
    """Relative training time, from a 2-epoch probe on this machine (only orders the queue)."""
    per_net = {("digits", "mlp1"): 1, ("digits", "mlp3"): 2.7, ("digits", "conv"): 3,
               ("digits-dvs", "mlp1"): 2.3, ("digits-dvs", "mlp3"): 4, ("digits-dvs", "conv"): 10}
    factor = 2.0 if job["quantizer"] == "sigmoid" or job["options"].get("distill") else 1.0
    return per_net[(job["dataset"], job["net"])] * job["timesteps"] / 4 * factor


_DATA: dict = {}


def run_job(job: dict) -> dict:
    """One training run in a 1-thread worker: test predictions, costs, seconds."""
    import torch

    torch.set_num_threads(1)
    from spikingjelly.activation_based import functional

    from cost_models.report import evaluate
    from dse.training.datasets import load_dataset
    from dse.training.train import Fidelity, train_candidate

    key = (job["dataset"], job["repeat"])
    if key not in _DATA:  # every split stays loaded: about 140 MB per digits-dvs split
        _DATA[key] = load_dataset(job["dataset"], seed=job["repeat"])
    data = _DATA[key]
    cand = candidate_for(job)
    start = time.perf_counter()
    result = train_candidate(cand, data, Fidelity(epochs=job["epochs"]), seed=job["repeat"],
                             device=torch.device("cpu"))
    model = result.model
    model.eval()
    correct = []
    with torch.no_grad():
        for i in range(0, len(data.test), 256):
            x, y = data.test.x[i : i + 256], data.test.y[i : i + 256]
            correct.extend((model(x).mean(0).argmax(1) == y).tolist())
            functional.reset_net(model)
    wall = time.perf_counter() - start
    fpga = evaluate(cand, "fpga-small", result.activity)
    asic = evaluate(cand, "asic-45nm", result.activity)
    return {
        **job,
        "key": job_key(job),
        "test_correct": "".join("1" if c else "0" for c in correct),
        "test_accuracy": sum(correct) / len(correct),
        "val_accuracy": result.accuracy,
        "ece": result.ece,
        "train_seconds": result.train_seconds,
        "teacher_seconds": result.teacher_seconds,
        "wall_seconds": wall,
        "weight_memory_bytes": fpga.weight_memory_bytes,
        "memory_bytes": fpga.memory_bytes,
        "energy_mj_fpga_small": fpga.energy_mj,
        "energy_mj_asic_45nm": asic.energy_mj,
        "acs": fpga.acs,
        "effective_acs": fpga.effective_acs,
        "latency_cycles": fpga.latency_cycles,
        "lut": fpga.lut,
        "bram18": fpga.bram18,
        "firing_rates": result.firing_rates,
    }


def done_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        if line.strip():
            keys.add(json.loads(line)["key"])
    return keys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(HERE), help="folder of runs.jsonl and machine.json")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.jsonl"
    done = done_keys(runs_path)
    todo = [j for j in jobs(args.epochs, args.repeats) if job_key(j) not in done]
    print(f"{len(todo)} runs to do, {len(done)} already in {runs_path}", flush=True)
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool, runs_path.open("a") as sink:
        for i, r in enumerate(pool.imap_unordered(run_job, todo), 1):
            sink.write(json.dumps(r) + "\n")
            sink.flush()
            print(f"[{i}/{len(todo)}] {r['dataset']} {r['net']} {r['label']} T={r['timesteps']} "
                  f"m={r['membrane_bits']} r={r['repeat']} test={r['test_accuracy']:.3f} {r['wall_seconds']:.1f} s",
                  flush=True)
    import torch

    machine_path = out / "machine.json"
    calls = json.loads(machine_path.read_text()).get("calls", []) if machine_path.exists() else []
    calls.append({"wall_seconds": time.perf_counter() - start, "runs": len(todo)})  # a resumed run adds a call
    machine = {
        "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(), "torch": torch.__version__,
        "workers": args.workers, "threads_per_worker": 1,
        "command": f"PYTHONPATH=. python benchmarks/quantizers/run.py --epochs {args.epochs} "
                   f"--repeats {args.repeats} --workers {args.workers}",
        "calls": calls,
    }
    machine_path.write_text(json.dumps(machine, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
