"""`dse train`: train one configuration at full fidelity, print its test accuracy and its cost report.

    dse train --config candidate.yaml [--target NAME|FILE] [--epochs N] [--dataset NAME] [--seed N]
              [--device auto] [--out DIR] [--force] [--json]

Full fidelity is DEFAULT_EPOCHS (30) epochs of dse.training.train's recipe: low-bit weights peak late (1-2 bit
runs need 10-30 epochs, stack-notes.md), so a search's short scores are checked here. Accuracy is
measured on data.test, which the search never sees; the cost report is the analytic cost model fed
with the spikes measured on that test split. --out DIR writes DIR/checkpoint.pt (for
`dse export --from-checkpoint`), DIR/candidate.yaml and DIR/result.json.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dse.errors import UserError, load_user_target
from dse.files import check_writable_folder

DEFAULT_EPOCHS = 30
DEFAULT_TARGET = "fpga-small"
DEFAULT_DATASET = "digits"
CHECKPOINT_NAME = "checkpoint.pt"
RESULT_NAME = "result.json"
WRITTEN_NAMES = (CHECKPOINT_NAME, "candidate.yaml", RESULT_NAME)  # all dse train writes in --out; --force replaces these only


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `train` subcommand; returns its parser."""
    p = subparsers.add_parser(
        "train",
        help="train one candidate at full fidelity: test accuracy and cost report",
        description=f"Train one configuration (a Candidate YAML, e.g. from `dse export --format yaml`) with "
        f"quantization-aware training for --epochs (default {DEFAULT_EPOCHS}), then print its accuracy on the test "
        "split and the cost report computed from the spikes measured on it.",
    )
    p.add_argument("--config", required=True, metavar="CANDIDATE.yaml", help="candidate file (Candidate.to_dict() fields as YAML/JSON)")
    p.add_argument("--target", default=DEFAULT_TARGET, metavar="NAME|FILE", help=f"hardware target for the cost report (default {DEFAULT_TARGET})")
    p.add_argument("--epochs", type=_positive, default=DEFAULT_EPOCHS, metavar="N", help=f"training epochs (default {DEFAULT_EPOCHS})")
    p.add_argument("--dataset", default=DEFAULT_DATASET, metavar="NAME", help=f"data set (default {DEFAULT_DATASET})")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split and of training (default 0)")
    p.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--out", metavar="DIR", help=f"write DIR/{CHECKPOINT_NAME} (for dse export --from-checkpoint), "
                   f"DIR/candidate.yaml and DIR/{RESULT_NAME}")
    p.add_argument("--force", action="store_true", help="replace the files dse train writes in --out (checkpoint.pt, candidate.yaml, result.json); other files are kept")
    p.add_argument("--json", action="store_true", help=f"print the result document ({RESULT_NAME}'s content) as JSON")
    return p


def _check_out(out: str | None, force: bool) -> Path | None:
    """Refuse before training: an --out that is a file, holds a checkpoint (without --force) or cannot be written."""
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    existing = [name for name in WRITTEN_NAMES if (path / name).exists()]
    if existing and not force:
        raise UserError(f"{path / existing[0]} already exists; choose another --out or give --force to replace "
                        f"the files dse train writes ({', '.join(WRITTEN_NAMES)}; other files are kept)")
    taken = [name for name in WRITTEN_NAMES if (path / name).exists() and not (path / name).is_file()]
    if taken:
        raise UserError(f"--out {out} holds {taken[0]!r}, which is not a plain file; move it away or choose another --out")
    check_writable_folder(path)
    return path


def train_and_report(candidate: Any, target: Any, dataset: str, epochs: int, seed: int, device: Any) -> tuple[Any, dict[str, Any], Any, Any]:
    """Train, measure on the test split, cost it; returns (model, result document, cost report, data)."""
    from cost_models.report import evaluate
    from dse.training.data import load_dataset
    from dse.training.train import Fidelity, measure, train_candidate

    try:
        data = load_dataset(dataset, seed=seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    data.check_family(candidate.family)
    if tuple(candidate.input_shape) != tuple(data.input_shape) or candidate.num_classes != data.num_classes:
        raise UserError(f"candidate has input_shape {list(candidate.input_shape)} and {candidate.num_classes} classes; "
                        f"data set {dataset!r} has {list(data.input_shape)} and {data.num_classes}")
    fidelity = Fidelity(epochs=epochs)
    result = train_candidate(candidate, data, fidelity, seed=seed, device=device)
    model = result.model
    test_acc, activity, rates, ece = measure(model, data.test.to(device), fidelity.batch_size * 4)
    report = evaluate(candidate, target, activity)
    doc = {
        "candidate": candidate.to_dict(), "summary": candidate.summary(), "dataset": dataset, "epochs": epochs,
        "seed": seed, "target": target.name, "test_accuracy": test_acc, "val_accuracy": result.accuracy,
        "test_samples": len(data.test), "test_ece": ece, "firing_rates_test": rates,
        "train_seconds": result.train_seconds, "loss_history": result.loss_history, "cost": report.to_dict(),
    }
    return model, doc, report, data


def save_run(out: Path, model: Any, doc: dict[str, Any], data: Any) -> None:
    """DIR/checkpoint.pt, DIR/candidate.yaml and DIR/result.json, each written atomically."""
    from dse.training.artifacts import write_checkpoint
    from dse.files import write_text
    from dse.export.yaml_format import candidate_yaml

    out.mkdir(parents=True, exist_ok=True)
    write_checkpoint(out / CHECKPOINT_NAME, model, data, {"trained_by": "dse train", "epochs": doc["epochs"], "seed": doc["seed"]})
    write_text(out / "candidate.yaml", candidate_yaml(model.candidate, f"trained by dse train: test accuracy {doc['test_accuracy']:.4f}"))
    write_text(out / RESULT_NAME, json.dumps(doc, indent=2) + "\n")


def run(args: argparse.Namespace) -> int:
    """Execute `dse train`; returns 0. Raises UserError on bad input, before training."""
    from dse.device import select_device
    from dse.cli._common import load_candidate
    from dse.results.cost_table import print_report

    candidate = load_candidate(args.config)
    target = load_user_target(args.target)
    try:
        device = select_device(args.device)
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"--device {args.device}: {str(exc).splitlines()[0]}") from None
    out = _check_out(args.out, args.force)
    model, doc, report, data = train_and_report(candidate, target, args.dataset, args.epochs, args.seed, device)
    if out is not None:
        save_run(out, model.cpu(), doc, data)
        doc["checkpoint"] = str(out / CHECKPOINT_NAME)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    rates = doc["firing_rates_test"]
    mean_rate = sum(rates.values()) / len(rates) if rates else 0.0
    print(f"{candidate.summary()}: test accuracy {doc['test_accuracy']:.4f} on {doc['test_samples']} {args.dataset} test "
          f"samples after {args.epochs} epochs (validation {doc['val_accuracy']:.4f}, {doc['train_seconds']:.1f} s)")
    print_report(candidate, target, report, mean_rate, args.config,
                 activity=f"spikes measured on the test split, mean firing rate {mean_rate:.4g}")
    print(f"cost report from the spikes measured on the test split (mean firing rate {mean_rate:.4f} spikes/neuron/timestep)")
    if out is not None:
        print(f"saved {doc['checkpoint']}: export it with `dse export --from-checkpoint {doc['checkpoint']} --out DIR`")
    return 0
