"""Measures how closely Spiker+'s own fixed-point model follows the project's integer reference on an export.

For each event MLP: train it on digits-dvs (dse.training.train's recipe, --epochs), export it with
`--format spikerplus` (dse/export/spikerplus_format.py), run Spiker+'s Python model of its hardware
(Optimizer.build_quant_snn -> QuantSNN, spikerplus 2.0.3) on the written net_dict, state dict and optim_config,
and compare its spikes and classes with dse/export/integer_sim.py on the whole test split. Also without the
readout's ratio bits (ratio_bits 0: the neuron width from the member's own widths alone), to show why the
export adds them. Writes
benchmarks/results/spikerplus_agreement.json; docs/export.md quotes it.

    python benchmarks/bench_spikerplus_agreement.py [--epochs 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine  # noqa: E402

from dse.export import ExportContext, export_to  # noqa: E402
from dse.export import spikerplus_format as spf  # noqa: E402
from dse.export.integer_sim import model_input_steps, simulate  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.training.train import Fidelity, train_candidate  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "spikerplus_agreement.json"
DATASET = "digits-dvs"
# (widths, weight bits, membrane bits, T, quantizer)
CANDIDATES = [
    ((64,), (4, 4), (8,), 8, "uniform"),
    ((64, 32), (2, 4, 4), (6, 8), 8, "uniform"),
    ((128,), (4, 4), (6,), 16, "uniform"),
    ((64,), (2, 2), (8,), 8, "uniform"),
    ((64,), (2, 2), (8,), 8, "ternary"),
]


def compare(ref, run, labels: np.ndarray) -> dict[str, object]:
    """Spike and class agreement of a Spiker+ run with the integer reference."""
    spikes = [(a.reshape(b.shape) == b) for a, b in zip(ref.spikes, run.spikes)]
    mean_class = np.argmax(run.readout_membrane.mean(axis=0), axis=1)  # Spiker+'s Trainer/NetworkSimulator readout
    return {
        "spike_agreement_per_layer": [round(float(s.mean()), 5) for s in spikes],
        "spikes_differing": int(sum(int((~s).sum()) for s in spikes)), "spikes_total": int(sum(s.size for s in spikes)),
        "prediction_agreement": round(float((ref.predictions == run.predictions).mean()), 4),
        "prediction_agreement_mean_membrane": round(float((ref.predictions == mean_class).mean()), 4),
        "accuracy_reference": round(float((ref.predictions == labels).mean()), 4),
        "accuracy_spikerplus": round(float((run.predictions == labels).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(DATASET, seed=args.seed)
    labels = data.test.y.numpy()
    rows = []
    for widths, wbits, mbits, timesteps, quantizer in CANDIDATES:
        cand = Candidate("mlp", widths, wbits, mbits, timesteps, quantizer=quantizer, input_shape=data.input_shape,
                         num_classes=data.num_classes, input_kind="events")
        start = time.perf_counter()
        model = train_candidate(cand, data, Fidelity(epochs=args.epochs), seed=args.seed,
                                device=torch.device("cpu")).model.eval()
        ctx = ExportContext(model, DATASET, "bench", input_step=data.in_step)
        frames = model_input_steps(model, data.test.x).numpy().astype(np.int64)
        ref = simulate(ctx.integer_net, frames)
        row: dict[str, object] = {"candidate": cand.summary()}
        with tempfile.TemporaryDirectory() as tmp:
            export_to(ctx, ["spikerplus"], Path(tmp) / "out")
            net_dict, state, optim = spf.read_inputs(Path(tmp) / "out")
            row["optim_config"] = optim
            row["export"] = compare(ref, spf.run_quantized_model(net_dict, state, optim, frames), labels)
        spk = spf.spikerplus_network(ctx.integer_net, quantizer, ratio_bits=0)
        run = spf.run_quantized_model(spk.net_dict(), spk.state_dict(), spk.optim_config(), frames)
        row["ratio_bits_0"] = {"optim_config": spk.optim_config(), **compare(ref, run, labels)}
        row["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(row))
        rows.append(row)
    doc = {"machine": machine(), "dataset": DATASET, "epochs": args.epochs, "seed": args.seed,
           "test_samples": len(data.test), "results": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
