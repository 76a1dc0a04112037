"""`dse export`: write one trained configuration in deployable formats, from a trial or a checkpoint file.

    dse export --storage URL --study NAME --trial N --out DIR [--format yaml,npz,nir,mem,pt,verilog,spikerplus]
               [--scale-bits auto|F] [--artifacts DIR] [--force]
    dse export --from-checkpoint FILE --out DIR [...]

A trial's trained weights come from its Optuna artifact (dse/artifacts.py); formats are in
dse/export/ (docs/export.md). Refused with one line and exit 2, before anything is written: an
unknown study or trial, a trial of another study, a failed, screened or unfinished trial, a trial
without stored weights (`dse train --config` is offered), an unknown format, an existing --out
without --force, a corrupt checkpoint, a configuration a format cannot express.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
from typing import Any

from dse.errors import UserError
from dse.export import FORMATS

DEFAULT_FORMATS = "yaml,npz,nir,mem,pt,verilog"  # without --format: each the configuration can take, the rest named with the reason
EXPORTABLE_STATUSES = ("trained", "stopped")  # stopped: trained, then stopped early by dse/early_stop.py


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `export` subcommand; returns its parser."""
    p = subparsers.add_parser(
        "export",
        help="export a trained trial (or checkpoint): candidate YAML, integer npz, NIR, .mem/.coe, PyTorch, Verilog",
        description="Export one trained configuration: the Candidate as YAML, integer weights/scales/multipliers/"
        "thresholds per layer (npz), a NIR graph with a sidecar JSON, FPGA weight-memory files (.mem, .coe) and the "
        "PyTorch state dict and, when the FPGA template can express the network, synthesizable Verilog. The weights "
        "come from the trial's stored artifact (no retraining) or from a checkpoint written by `dse train --out`. "
        "See docs/export.md.",
    )
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL of the study, e.g. sqlite:///dse-out/digits-dvs34-fpga-small/study.db")
    p.add_argument("--study", metavar="NAME", help="study name in that storage")
    p.add_argument("--trial", type=int, metavar="N", help="trial number in that study (as in `dse pareto`)")
    p.add_argument("--from-checkpoint", metavar="FILE", help="export from a checkpoint file (dse train --out DIR writes "
                   "DIR/checkpoint.pt) instead of --storage/--study/--trial")
    p.add_argument("--format", default=None, metavar="LIST",
                   help=f"comma list of {', '.join(FORMATS)}; every one given must succeed. Default: each of "
                   f"{DEFAULT_FORMATS} that the configuration can take (the others are named with the reason)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--scale-bits", default="auto", metavar="auto|F",
                   help="fractional bits F of the per-neuron multipliers M = round(s x in_step / step x 2^F): 'auto' "
                   "(default) picks per layer the largest F with every M in 18 signed bits (one DSP48E1 port); 32 "
                   "reproduces the float64 model spike for spike")
    p.add_argument("--artifacts", "--artifact-dir", dest="artifacts", metavar="DIR",
                   help="folder of the study's model artifacts, as given to `dse search --artifacts` (default: the folder "
                   "each trial recorded, when it is on this machine, else DIR/artifacts "
                   "beside a sqlite:///DIR/x.db storage; --artifact-dir is an older spelling)")
    return p


def _retrain_hint(storage: str, study: str, number: int) -> str:
    return (f"export its candidate with `dse export --storage {storage} --study {study} --trial {number} --format yaml "
            f"--out DIR`, train it with `dse train --config DIR/candidate.yaml --out RUN` and export that with "
            f"`dse export --from-checkpoint RUN/checkpoint.pt`")



def find_trial(study: Any, number: int, storage_url: str) -> Any:
    """The finished, trained trial `number` of the study; UserError saying why it cannot be exported."""
    import optuna

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    trial = trials.get(number)
    if trial is None:
        span = f"trials 0..{max(trials)}" if trials else "no trials"
        storage = optuna.storages.get_storage(storage_url)
        others = [n for n in optuna.get_all_study_names(storage) if n != study.study_name
                  and any(t.number == number for t in optuna.load_study(study_name=n, storage=storage).get_trials(deepcopy=False))]
        hint = f"; trial {number} belongs to study {others[0]!r} in the same storage: give --study {others[0]}" if others else ""
        raise UserError(f"study {study.study_name!r} has no trial {number} ({span}){hint}")
    state = trial.state
    status = trial.user_attrs.get("status")
    if state == optuna.trial.TrialState.FAIL:
        reason = trial.user_attrs.get("fail_reason", "no reason recorded")
        raise UserError(f"trial {number} of study {study.study_name!r} failed ({reason}): it has no trained model to export")
    if state != optuna.trial.TrialState.COMPLETE:
        raise UserError(f"trial {number} of study {study.study_name!r} is {state.name.lower()}, not complete: nothing to export")
    if status == "screened":
        raise UserError(f"trial {number} of study {study.study_name!r} was screened (rejected by the cost model before "
                        f"training: {', '.join(trial.user_attrs.get('violations', [])) or 'over budget'}): it has no trained model")
    if status not in EXPORTABLE_STATUSES:
        raise UserError(f"trial {number} of study {study.study_name!r} has status {status!r}; accepted: "
                        f"{', '.join(EXPORTABLE_STATUSES)}")
    return trial


def context_from_trial(args: argparse.Namespace, formats: list[str]) -> Any:
    """ExportContext of a stored trial: candidate from its user attrs, weights from its artifact."""
    from dse.training.artifacts import default_artifact_dir, load_model, load_trial_checkpoint
    from dse.export import CANDIDATE_ONLY_FORMATS, ExportContext
    from search_spaces.candidate import Candidate

    missing = [flag for flag, value in (("--storage", args.storage), ("--study", args.study), ("--trial", args.trial)) if value is None]
    if missing:
        raise UserError(f"give --from-checkpoint FILE, or all of --storage, --study and --trial (missing {', '.join(missing)})")
    from dse.search.storage import open_existing_study

    study = open_existing_study(args.storage, args.study)
    trial = find_trial(study, args.trial, args.storage)
    candidate = Candidate.from_dict(trial.user_attrs["candidate"])
    dataset = (study.user_attrs.get("dse") or {}).get("dataset")
    source = f"study {args.study!r} trial {args.trial} in {args.storage}"
    ckpt_source = {"study": args.study, "trial": args.trial, "storage": args.storage}
    scale_bits = _scale_bits(args)
    if all(f in CANDIDATE_ONLY_FORMATS for f in formats):
        return ExportContext(None, dataset, source, scale_bits, checkpoint_source=ckpt_source, candidate=candidate)
    checkpoint = load_trial_checkpoint(trial, args.artifacts, args.study, _retrain_hint(args.storage, args.study, args.trial),
                                       fallback_dir=default_artifact_dir(args.storage))
    model = load_model(checkpoint, f"model artifact of trial {args.trial}")
    return ExportContext(model, checkpoint.dataset or dataset, source, scale_bits, input_step=checkpoint.in_step,
                         checkpoint_source=ckpt_source)


def context_from_checkpoint(args: argparse.Namespace) -> Any:
    from dse.training.artifacts import load_model, read_checkpoint
    from dse.export import ExportContext

    if any(v is not None for v in (args.storage, args.study, args.trial)):
        raise UserError("give either --from-checkpoint or --storage/--study/--trial, not both")
    checkpoint = read_checkpoint(args.from_checkpoint)
    model = load_model(checkpoint, str(args.from_checkpoint))
    return ExportContext(model, checkpoint.dataset, f"checkpoint {args.from_checkpoint}", _scale_bits(args),
                         input_step=checkpoint.in_step, checkpoint_source=checkpoint.source)


def _scale_bits(args: argparse.Namespace) -> int | str:
    from dse.export.integer_network import parse_scale_bits

    return parse_scale_bits(args.scale_bits)


def run(args: argparse.Namespace) -> int:
    """Execute `dse export`; returns 0. Raises UserError on bad input (nothing written)."""
    from dse.export import check_output, export_to, parse_formats

    formats = parse_formats(args.format or DEFAULT_FORMATS)
    check_output(args.out, args.force)
    _scale_bits(args)
    ctx = context_from_checkpoint(args) if args.from_checkpoint else context_from_trial(args, formats)
    skipped: dict[str, str] | None = None if args.format else {}
    written = export_to(ctx, formats, args.out, args.force, skipped=skipped)
    print(f"exported {ctx.source} ({ctx.candidate.summary()}) to {args.out}: {', '.join(p.name for p in written)}")
    for name, reason in (skipped or {}).items():
        print(f"left out {name}: {reason}")
    if "integer_net" in ctx.__dict__:
        net = ctx.integer_net
        print("scale bits F per layer: " + ", ".join(f"{l.name} {l.scale_bits} (M <= {int(l.multiplier.max())})" for l in net.layers))
    return 0
