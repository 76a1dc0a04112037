"""Times MFP training with the parallel reset-free integrator against the same integrator run step by step.

MFP-QSNN (ICASSP 2025) claims 3.1x faster training from parallel computation over time. This
project's `mfp` neuron integrates U = M I in one einsum (ParallelResetFreeNeuron); the
sequential twin (SequentialResetFreeNeuron) loops over T with u_t = lambda u_{t-1} + I_t / tau.
Per net and T, one model (4-bit learned-scale weights, seed 0) is trained on digits (Adam 1e-2,
batch 64, the train split) with each integrator in turn; an epoch is timed R times, alternating
the two, and the medians are compared. For context the `uniform` type's fixed-point LIF (8-bit
membrane, hard reset: the quantized-membrane neuron a sequential QSNN trains) is timed the same
way on the same net. Writes benchmarks/results/mfp_parallel.json; docs/quantizers.md quotes it.

    python benchmarks/bench_mfp_parallel.py [--repeats R] [--threads N]
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
RESULTS = REPO / "benchmarks" / "results" / "mfp_parallel.json"

import torch  # noqa: E402
from spikingjelly.activation_based import functional  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from dse.quantizers.mfp import ParallelResetFreeNeuron, SequentialResetFreeNeuron  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.training.model import build_model  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

WEIGHT_BITS = 4
BATCH = 64
LR = 1e-2
# (label, family, widths, pooling)
NETS = [
    ("mlp 64-128-10", "mlp", (128,), ()),
    ("mlp 64-128-128-10", "mlp", (128, 128), ()),
    ("conv 8c-max-16c-max", "conv", (8, 16), ("max", "max")),
]
TIMESTEPS = (4, 8, 16)


def candidate(family: str, widths: tuple[int, ...], pooling: tuple[str, ...], timesteps: int, quantizer: str) -> Candidate:
    membrane = (None,) * len(widths) if quantizer == "mfp" else (8,) * len(widths)
    return Candidate(family, widths, (WEIGHT_BITS,) * (len(widths) + 1), membrane, timesteps, quantizer=quantizer,
                     pooling=pooling, input_shape=(1, 8, 8), num_classes=10,
                     quantizer_options={"scale": "learned"} if quantizer == "uniform" else {})


def with_integrator(model: torch.nn.Module, cls: type) -> torch.nn.Module:
    """The model with every reset-free neuron replaced by `cls` (same tau and threshold; no parameters to copy)."""
    for i, module in enumerate(model.body):
        if isinstance(module, ParallelResetFreeNeuron):
            twin = cls(tau=module.tau, v_threshold=module.v_threshold)
            model.body[i] = twin
            model.neurons[[id(n) for n in model.neurons].index(id(module))] = twin
    return model


def epoch_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Wall time of one training epoch (forward, backward, Adam step per batch of 64)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        loss = torch.nn.functional.cross_entropy(model(x[i : i + BATCH]).mean(0), y[i : i + BATCH])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        functional.reset_net(model)
    return time.perf_counter() - start


def build(net: tuple, timesteps: int, quantizer: str, integrator: type | None) -> torch.nn.Module:
    _, family, widths, pooling = net
    torch.manual_seed(0)
    model = build_model(candidate(family, widths, pooling, timesteps, quantizer))
    return with_integrator(model, integrator) if integrator is not None else model


def max_membrane_difference(timesteps: int) -> float:
    """|U_parallel - U_sequential| on a random current: the two are one integration (float rounding apart)."""
    torch.manual_seed(1)
    current = torch.randn(timesteps, 64, 128) * 2
    return float((ParallelResetFreeNeuron().membrane(current) - SequentialResetFreeNeuron().membrane(current)).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per integrator (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("digits", seed=0)
    x, y = data.train.x, data.train.y
    rows = []
    for net in NETS:
        for timesteps in TIMESTEPS:
            models = {
                "parallel": build(net, timesteps, "mfp", None),
                "sequential": build(net, timesteps, "mfp", SequentialResetFreeNeuron),
                "lif (uniform, 8-bit membrane)": build(net, timesteps, "uniform", None),
            }
            for model in models.values():
                epoch_seconds(model, x[:BATCH * 2], y[:BATCH * 2])  # warm-up: allocator, kernels
            times: dict[str, list[float]] = {k: [] for k in models}
            for _ in range(args.repeats):  # alternate, so a load change on the machine hits every variant
                for key, model in models.items():
                    times[key].append(epoch_seconds(model, x, y))
            med = {k: statistics.median(v) for k, v in times.items()}
            row = {"net": net[0], "timesteps": timesteps, "median_epoch_seconds": med,
                   "all_epoch_seconds": times,
                   "speedup_parallel_over_sequential": med["sequential"] / med["parallel"],
                   "speedup_parallel_over_lif": med["lif (uniform, 8-bit membrane)"] / med["parallel"]}
            rows.append(row)
            print(f"{net[0]:22s} T={timesteps:2d}  parallel {med['parallel']:.3f} s  sequential {med['sequential']:.3f} s "
                  f"(x{row['speedup_parallel_over_sequential']:.2f})  lif {med['lif (uniform, 8-bit membrane)']:.3f} s "
                  f"(x{row['speedup_parallel_over_lif']:.2f})", flush=True)
    out = {
        "machine": machine(),
        "command": f"python benchmarks/bench_mfp_parallel.py --repeats {args.repeats} --threads {args.threads}",
        "settings": {"weight_bits": WEIGHT_BITS, "batch": BATCH, "lr": LR, "train_samples": len(x),
                     "timesteps": list(TIMESTEPS)},
        "max_membrane_difference_T16": max_membrane_difference(16),
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
