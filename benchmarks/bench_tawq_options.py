"""Validation accuracy of TaWQ's edge-layer and affine options on digits (issue 15, item 3).

MLP 64-128-128-10 (one ternary hidden layer between the edges), T = 4, 8-bit membranes, Adam 1e-2,
batch 64, N epochs, S seeds, digits split seed 0 (360 validation samples: one sample is 0.28
points). Rows: edge_bits 2 (every layer ternary per timestep) and 8 (the paper's higher-precision
edges), each with the paper's scale alone (affine none), with the learned per-channel gain
(affine scale, the default), with the `latent` scale, and the shift (affine scale_shift).
Writes benchmarks/results/tawq_options.json; docs/quantizers.md quotes it.

    python benchmarks/bench_tawq_options.py [--epochs 15] [--seeds 3]
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
RESULTS = REPO / "benchmarks" / "results" / "tawq_options.json"

import torch  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.training.train import Fidelity, train_candidate  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

WIDTHS = (128, 128)
TIMESTEPS = 4
ROWS = [  # (edge bits, options)
    (2, {"scale": "paper", "affine": "none"}),
    (2, {"scale": "paper", "affine": "scale"}),
    (2, {"scale": "latent", "affine": "none"}),
    (8, {"scale": "paper", "affine": "none"}),
    (8, {"scale": "paper", "affine": "scale"}),
    (8, {"scale": "latent", "affine": "none"}),
    (8, {"scale": "latent", "affine": "scale"}),
    (8, {"scale": "paper", "affine": "scale_shift"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits", seed=0)
    rows = []
    for edge, options in ROWS:
        n = len(WIDTHS) + 1
        bits = tuple(edge if i in (0, n - 1) else 2 for i in range(n))
        cand = Candidate("mlp", WIDTHS, bits, (8,) * len(WIDTHS), TIMESTEPS, quantizer="tawq",
                         quantizer_options={"edge_bits": edge, **options})
        start = time.perf_counter()
        accs = [train_candidate(cand, data, Fidelity(epochs=args.epochs), seed=s, device=torch.device("cpu")).accuracy
                for s in range(args.seeds)]
        row = {"edge_bits": edge, **options, "weight_bits": list(bits), "accuracy": accs,
               "mean": statistics.mean(accs), "std": statistics.pstdev(accs), "seconds": time.perf_counter() - start}
        rows.append(row)
        print(f"edge_bits {edge}  scale {options['scale']:6s} affine {options['affine']:11s} "
              f"{row['mean']:.3f} +- {row['std']:.3f}  {[round(a, 3) for a in accs]}", flush=True)
    out = {"machine": machine(), "command": f"python benchmarks/bench_tawq_options.py --epochs {args.epochs} "
           f"--seeds {args.seeds}", "widths": list(WIDTHS), "timesteps": TIMESTEPS, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
