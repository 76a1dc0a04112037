"""Simulated cycles against the cost model's latency for every design of the synthesis grid.

    python benchmarks/synthesis/latency_table.py [--samples 8] [--large] [--only NAME ...]

Every grid point of run_grid.py (the same integer networks yosys synthesizes) is exported, run in
iverilog on seeded inputs (static: digits-like codes; events: random frames, streamed with valid
gaps) and its cycles per inference compared with cost_models: per sample
(cost_models/latency.py on that sample's events and spikes) and as the report gives it
(`evaluate` with the samples' mean activity). Writes latency_table.json and latency_table.md beside
this file; docs/cost-models.md#latency-table quotes the table. Exit 1 if any sample differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

import run_grid  # noqa: E402

from cost_models.latency import sample_cycles  # noqa: E402
from cost_models.network import layer_specs  # noqa: E402
from cost_models.report import evaluate  # noqa: E402
from dse.export.integer_sim import simulate  # noqa: E402
from dse.hardware.selfcheck import layer_traffic, traffic_activity  # noqa: E402
from dse.hardware.synthetic import random_input_codes  # noqa: E402
from dse.hardware.testbench import simulate_verilog  # noqa: E402
from dse.hardware.verilog_template import verilog_design  # noqa: E402

OUT_JSON = HERE / "latency_table.json"
OUT_MD = HERE / "latency_table.md"
EVENT_DENSITY = 0.3


def _inputs(cand, samples: int, seed: int) -> np.ndarray:
    """Static: digits-like codes 0..16 [B, C, H, W]; events: 0/1 frames [T, B, C, H, W]."""
    rng = np.random.default_rng(seed)
    if cand.input_kind == "events":
        return (rng.random((cand.timesteps, samples, *cand.input_shape)) < EVENT_DENSITY).astype(np.int64)
    return random_input_codes(int(np.prod(cand.input_shape)), samples, seed).reshape(samples, *cand.input_shape)


def measure(point, samples: int, seed: int = 3) -> dict:
    """Simulate one grid point; its measured cycles and the cost model's."""
    cand = point.candidate()
    net = point.integer_net()
    inputs = _inputs(cand, samples, seed)
    ref = simulate(net, inputs)
    specs = layer_specs(cand)
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        run = simulate_verilog(verilog_design(net), inputs, net.timesteps, workdir=work)
        seconds = time.perf_counter() - start
    agree = all(np.array_equal(a.reshape(b.shape), b) for a, b in zip(ref.spikes, run.spikes))
    agree = agree and np.array_equal(ref.predictions, run.predictions)
    first = (inputs.reshape(inputs.shape[0], inputs.shape[1], -1).sum(axis=(0, 2)).astype(np.float64)
             if cand.input_kind == "events" else np.zeros(samples))
    events, emitted = layer_traffic(specs, ref.spikes, first)
    model = sample_cycles(specs, cand.input_shape, events, emitted)
    report = evaluate(cand, run_grid.ESTIMATE_TARGET, traffic_activity(specs, events, emitted))
    measured = [int(c) for c in run.cycles]
    return {
        "name": point.name, "family": point.family, "samples": samples, "spikes_and_predictions_agree": bool(agree),
        "measured_cycles": measured, "model_cycles": [int(round(c)) for c in model],
        "samples_equal": int(sum(a == b for a, b in zip(measured, model))),
        "measured_mean": float(np.mean(measured)), "estimated_mean": float(report.latency_cycles),
        "ratio": float(report.latency_cycles / np.mean(measured)), "simulation_s": round(seconds, 2),
    }


def table(rows: list[dict]) -> str:
    lines = ["| design | family | samples | simulated cycles (mean) | estimated (mean activity) | ratio | samples equal |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['family']} | {r['samples']} | {r['measured_mean']:,.2f} | "
                     f"{r['estimated_mean']:,.2f} | {r['ratio']:.3f} | {r['samples_equal']}/{r['samples']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="inputs per design (default 8)")
    parser.add_argument("--large", action="store_true", help="also the 784-input designs")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="only these grid points")
    args = parser.parse_args(argv)
    points = list(run_grid.DEFAULT_GRID) + (list(run_grid.LARGE_GRID) if args.large else [])
    if args.only:
        points = [p for p in points if p.name in set(args.only)]
    rows = []
    for point in points:
        row = measure(point, args.samples)
        rows.append(row)
        print(f"{row['name']}: simulated {row['measured_mean']:.2f}, estimated {row['estimated_mean']:.2f}, "
              f"ratio {row['ratio']:.3f}, {row['samples_equal']}/{row['samples']} samples equal, "
              f"spikes {'agree' if row['spikes_and_predictions_agree'] else 'DIFFER'}", flush=True)
    OUT_JSON.write_text(json.dumps({"command": "python benchmarks/synthesis/latency_table.py "
                                    + " ".join(argv if argv is not None else sys.argv[1:]),
                                    "target": run_grid.ESTIMATE_TARGET, "designs": rows}, indent=1) + "\n")
    OUT_MD.write_text(table(rows))
    bad = [r["name"] for r in rows if r["samples_equal"] != r["samples"] or not r["spikes_and_predictions_agree"]]
    if bad:
        print(f"cycles or spikes differ on {len(bad)} design(s): {', '.join(bad)}")
        return 1
    print(f"all {len(rows)} designs: every sample's cycles equal the cost model's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
