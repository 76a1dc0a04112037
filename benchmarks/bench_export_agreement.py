"""Measures how closely the exported integer network and the NIR graph follow the trained model.

For each candidate: train it (dse.training.train's recipe, --epochs), run the float64 fake-quantized model
and the integer reference simulation (dse/integer_sim.py) on the whole digits test split at
scale bits F = 32 and at the hardware choice (`auto`: every multiplier in 18 signed bits), and run
SpikingJelly's import of the NIR export (float LIF) against the model. Writes
benchmarks/results/export_agreement.json; docs/export.md quotes it.

    python benchmarks/bench_export_agreement.py [--epochs 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dse.training.data import load_dataset  # noqa: E402
from dse.export import ExportContext, export_to  # noqa: E402
from dse.export.integer_network import integer_network  # noqa: E402
from dse.export.integer_sim import agreement, model_spikes  # noqa: E402
from dse.training.train import Fidelity, train_candidate  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "export_agreement.json"
CANDIDATES = [
    Candidate("mlp", (128,), (4, 4), (8,), 4),
    Candidate("mlp", (128,), (2, 2), (4,), 4),
    Candidate("mlp", (64, 32), (1, 1, 8), (6, 12), 4),
    Candidate("mlp", (128,), (8, 8), (16,), 4),
    Candidate("conv", (8, 16), (8, 4, 4), (12, 8), 4, pooling=("avg", "none")),
    Candidate("conv", (8, 16), (4, 2, 4), (8, 6), 4, pooling=("max", "avg")),
    Candidate("mlp", (128,), (2, 2), (8,), 4, quantizer="ternary"),
    Candidate("mlp", (128,), (2, 2), (8,), 4, quantizer="sigmoid"),
]


def nir_agreement(model, x: torch.Tensor) -> dict[str, object] | str:
    """Spike agreement of SpikingJelly's import of the NIR export with the model, or why there is none."""
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    from dse.errors import UserError

    with tempfile.TemporaryDirectory() as tmp:
        try:
            export_to(ExportContext(model.float(), "digits", "bench"), ["nir"], Path(tmp) / "out")
        except UserError as exc:
            return f"refused: {exc}"
        net = import_from_nir(str(Path(tmp) / "out" / "network.nir"), step_mode="m")
    recorded: list[np.ndarray] = []
    for module in net.modules():
        if type(module).__name__ == "_NIRStatefulModule":
            module.register_forward_hook(lambda _m, _i, out: recorded.append(out[0].detach().numpy().astype(np.uint8)))
    with torch.no_grad():
        out, _ = net(x.float().unsqueeze(0).expand(model.candidate.timesteps, *x.shape))
    expected, logits = model_spikes(model.float(), x.float())
    differing = sum(int((a != b).sum()) for a, b in zip(recorded, expected))
    total = sum(a.size for a in expected)
    return {"spike_agreement": 1 - differing / total, "spikes_differing": differing, "spikes_total": total,
            "prediction_agreement": float((out.mean(0).numpy().argmax(1) == logits.argmax(1)).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits", seed=args.seed)
    x = data.test.x.double()
    rows = []
    for c in CANDIDATES:
        start = time.perf_counter()
        model = train_candidate(c, data, Fidelity(epochs=args.epochs), seed=args.seed, device=torch.device("cpu")).model
        model = model.double().eval()
        row: dict[str, object] = {"candidate": c.summary()}
        for f in (32, "auto"):
            net = integer_network(model, data_in_step(), f)
            a = agreement(model, net, x)
            row[f"F={f}"] = {
                "scale_bits": [layer.scale_bits for layer in net.layers],
                "max_multiplier": [int(layer.multiplier.max()) for layer in net.layers],
                "spike_agreement": a.spike_agreement, "spikes_differing": a.spikes_differing,
                "spikes_total": a.spikes_total, "prediction_agreement": a.prediction_agreement,
                "tied_samples": a.tied_samples,
            }
        row["nir_float_lif"] = nir_agreement(model, data.test.x)
        row["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(row))
        rows.append(row)
    doc = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "threads": 1},
        "epochs": args.epochs, "seed": args.seed, "test_samples": len(data.test), "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")


def data_in_step() -> float:
    return 0.25  # digits: pixel k/16 x 4 = k/4


if __name__ == "__main__":
    main()
