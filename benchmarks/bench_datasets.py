"""Figures for docs/datasets.md: digits-dvs generation time, event rates, MLP accuracy, layer-0 costs.

Generates the event set (timed, after a warm-up that imports scikit-learn and SciPy), reports its
event rate (overall, per polarity, per frame), trains an MLP 800-128-10 (uniform quantizer, 8-bit
weights, 16-bit membranes) on it at T = 4 and 8 for 2 and 5 epochs over three seeds, the same
MLP on static digits for comparison, and the fpga-small cost of layer 0 read as events (ACs)
against the same layer read as 8-bit static input (MACs). Writes benchmarks/results/datasets.json.

    python benchmarks/bench_datasets.py [--seeds N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "datasets.json"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cost_models.report import evaluate  # noqa: E402
from cost_models.targets import load_target  # noqa: E402
from dse.training.data import load_dataset  # noqa: E402
from dse.training.datasets.saccades import digits_saccade_frames  # noqa: E402
from dse.training.train import Fidelity, train_candidate  # noqa: E402
from search_spaces.candidate import Candidate  # noqa: E402

WIDTH = 128


def mlp(data, timesteps: int) -> Candidate:
    return Candidate(
        family="mlp", widths=(WIDTH,), weight_bits=(8, 8), membrane_bits=(16,), timesteps=timesteps,
        input_shape=data.input_shape, num_classes=data.num_classes, input_kind=data.input_kind,
    )


def accuracy_rows(data, timesteps_list, epochs_list, seeds) -> list[dict]:
    rows = []
    for timesteps in timesteps_list:
        for epochs in epochs_list:
            accs, secs = [], []
            for seed in range(seeds):
                r = train_candidate(mlp(data, timesteps), data, Fidelity(epochs=epochs), seed=seed, device=torch.device("cpu"))
                accs.append(r.accuracy)
                secs.append(r.train_seconds)
            rows.append({
                "dataset": data.name, "T": timesteps, "epochs": epochs, "seeds": seeds,
                "val_accuracy_mean": statistics.mean(accs), "val_accuracy_min": min(accs), "val_accuracy_max": max(accs),
                "train_seconds_mean": statistics.mean(secs),
            })
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    digits_saccade_frames(0)  # warm-up: imports and caches
    gen_s = []
    for _ in range(3):
        start = time.perf_counter()
        frames, _labels = digits_saccade_frames(0)
        gen_s.append(time.perf_counter() - start)
    rate = {
        "all": float(frames.mean()), "off": float(frames[:, :, 0].mean()), "on": float(frames[:, :, 1].mean()),
        "per_frame_min": float(frames.mean(axis=(0, 2, 3, 4)).min()),
        "per_frame_max": float(frames.mean(axis=(0, 2, 3, 4)).max()),
        "events_per_sample_mean": float(frames.reshape(len(frames), -1).sum(1).mean()),
    }
    print("generation s", gen_s, "rate", rate, flush=True)

    dvs = load_dataset("digits-dvs", seed=0)
    digits = load_dataset("digits", seed=0)
    rows = accuracy_rows(dvs, (4, 8), (2, 5), args.seeds) + accuracy_rows(digits, (4,), (2, 5), args.seeds)

    target = load_target("fpga-small")
    cand = mlp(dvs, 4)
    result = train_candidate(cand, dvs, Fidelity(epochs=5), seed=0, device=torch.device("cpu"))
    events_report = evaluate(cand, target, result.activity)
    static_report = evaluate(replace(cand, input_kind="static"), target, result.activity)
    layer0 = {
        name: {k: getattr(rep.layers[0], k) for k in ("input_events", "acs", "macs", "compute_energy_mj", "energy_mj", "lut", "dsp")}
        | {"total_energy_mj": rep.energy_mj}
        for name, rep in (("events", events_report), ("same_layer_as_8bit_static_input", static_report))
    }
    print(layer0, flush=True)
    out = {
        "machine": {
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": args.threads, "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "digits_dvs_generation_seconds": gen_s,
        "digits_dvs_shape": list(frames.shape),
        "event_rate": rate,
        "accuracy": rows,
        "layer0_fpga_small_T4": layer0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, default=float) + "\n")
    os.replace(tmp, RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
