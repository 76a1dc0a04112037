"""`dse search`: run (or resume) a design-space search and print its Pareto front.

Validates every input before anything is written (one line, exit 2), opens or resumes the study,
runs the trials in one process or `--jobs` workers, verifies the front, writes pareto.json and
trials.csv, and exits 0, 1 (no completed trial, or stopped on failures in a row) or 130 (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dse.cli._common import EXIT_FAILED, EXIT_INTERRUPTED, add_device_argument, make_console, print_front
from dse.errors import UserError, load_user_target
from dse.search.budgets import ACCEPTED as BUDGETS_ACCEPTED
from dse.search.budgets import QUANTITIES, format_budget, parse_budgets
from dse.search.samplers import SAMPLERS


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the `search` subcommand; returns its parser."""
    s = sub.add_parser("search", help="run (or resume) a design-space search and print its Pareto front",
                       description="Run an Optuna multi-objective search: each candidate is screened by the "
                       "analytic cost model, trained briefly (QAT), measured for spikes and costed. Prints a line "
                       "per trial and the Pareto front of feasible trials; writes OUT/pareto.json and OUT/trials.csv.")
    s.add_argument("--study-config", metavar="NAME|FILE", help="study file (studies/NAME.yaml or a path); default: "
                   "digits-dvs34-fpga-small (event frames at 34x34); the static 8x8 digits study: digits-fpga-small")
    s.add_argument("--target", metavar="NAME|FILE", help="hardware target (see `dse targets`) or a target YAML; overrides the study's")
    s.add_argument("--budget", action="append", default=None, metavar="BUDGET",
                   help="hard constraint, repeatable; replaces the study's budgets. " + BUDGETS_ACCEPTED)
    s.add_argument("--objectives", metavar="LIST", help="comma list: accuracy plus costs among energy, memory, sops, latency, lut, ff, bram, dsp (default accuracy,energy)")
    s.add_argument("--trials", type=int, metavar="N", help="completed trials the study should hold (resuming counts earlier ones)")
    s.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting new trials after this many seconds")
    s.add_argument("--space", metavar="NAME|FILE", help="search space (search_spaces/NAME.yaml or a path); overrides the study's")
    s.add_argument("--reference-fp", action=argparse.BooleanOptionalAction, default=None,
                   help="on a hardware target, also search the space's full-precision (fp) weights and membranes as "
                   "reference points: marked not deployable, drawn apart and kept off the front (listed as 'reference' "
                   "in pareto.json). Default: the study file's reference_fp (false): fp choices are left out, with one warning")
    s.add_argument("--dataset", metavar="NAME", help="data set: digits-dvs34 (the default study's: the digits at N-MNIST's 34x34 "
                   "sensor geometry, synthetic), digits (scikit-learn's bundled 8x8 digits), digits-dvs (the digits through a "
                   "simulated 20x20 event camera), mnist, fashion-mnist, nmnist, shd, dvsgesture, cifar10-dvs, npz:PATH, "
                   "nmnist:PATH, dvsgesture:PATH (see `dse datasets`, docs/datasets.md)")
    s.add_argument("--epochs", type=int, metavar="N", help="training epochs per trial (the fidelity); overrides the study's")
    s.add_argument("--sampler", choices=SAMPLERS, help="Optuna sampler (default: the study file's; tpe is multivariate)")
    s.add_argument("--seed", type=int, help="seed of the sampler, the data split and each trial's training")
    s.add_argument("--storage", metavar="URL", help="Optuna storage URL (default sqlite:///OUT/study.db; postgresql://... for many machines)")
    s.add_argument("--study", metavar="NAME", help="study name in the storage (default: the study file's name); an existing study is resumed")
    s.add_argument("--out", metavar="DIR", help="output folder for pareto.json and trials.csv (default dse-out/STUDY)")
    add_device_argument(s)
    s.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes on this machine sharing the study (torch threads split between them); "
                   "start the same command on other machines with one --storage postgresql://... to add more")
    s.add_argument("--heartbeat", type=int, default=10, metavar="SECONDS",
                   help="worker heartbeat: a trial whose worker is silent for 3 beats is failed and run again (default 10)")
    s.add_argument("--verify", type=int, default=3, metavar="K",
                   help="after the search, retrain the front's members at full fidelity over K seeds and show the "
                   "verified front (default 3; 0 skips it)")
    s.add_argument("--no-early-stopping", action="store_true",
                   help="train every trial for all its epochs (default: stop trials dominated at equal epochs)")
    s.add_argument("--artifacts", metavar="DIR",
                   help="folder for trained weights (Optuna artifacts); default: artifacts/ beside a SQLite storage, "
                   "OUT/artifacts otherwise")
    s.add_argument("--quiet", action="store_true", help="no per-trial lines or progress bar, only the front")
    s.add_argument("--json", action="store_true", help="print pareto.json's content on stdout and nothing else there")

    return s


def _resolve_search(args: argparse.Namespace) -> tuple[Any, Path, str | None]:
    """Validate every input of a search before anything is written; returns settings, out dir and the
    warning to show once the study is open (fp choices left out on a hardware target), or None."""
    from dse.training.artifacts import default_artifact_dir
    from dse.training.data import check_dataset_name
    from dse.files import check_writable_folder
    from dse.search.study import SearchSettings
    from dse.search.study_files import load_study_config
    from search_spaces.space import SearchSpace, SpaceError

    if args.verify < 0:
        raise UserError(f"--verify must be >= 0 seeds, got {args.verify}")
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {args.jobs}")
    if args.heartbeat < 1:
        raise UserError(f"--heartbeat must be >= 1 second, got {args.heartbeat}")
    config = load_study_config(args.study_config)
    try:
        budgets = parse_budgets(args.budget) if args.budget is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    objectives = tuple(o.strip() for o in args.objectives.split(",")) if args.objectives else None
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    fidelity = replace(config.fidelity, epochs=args.epochs) if args.epochs is not None else None
    config = config.with_overrides(
        target=args.target, budgets=budgets, objectives=objectives, trials=args.trials,
        timeout_s=args.timeout, space=args.space, dataset=args.dataset, fidelity=fidelity,
        sampler=args.sampler, seed=args.seed, reference_fp=args.reference_fp,
    )
    target = load_user_target(config.target)
    for quantity in (*config.budgets, *config.objectives):
        if quantity != "accuracy" and not target.produces(quantity):
            produced = ", ".join(q for q in QUANTITIES if target.produces(q))
            raise UserError(f"target {target.name!r} does not produce {quantity!r}; it produces: {produced}")
    try:
        space, warning = SearchSpace.load(config.space).for_target(target.name, target.kind, config.reference_fp)
    except SpaceError as exc:
        raise UserError(str(exc)) from None
    check_dataset_name(config.dataset)
    study_name = args.study or config.name
    out_dir = Path(args.out) if args.out else Path("dse-out") / study_name
    check_writable_folder(out_dir)
    if args.artifacts:
        check_writable_folder(args.artifacts)
    storage = args.storage or f"sqlite:///{out_dir / 'study.db'}"
    settings = SearchSettings(
        study_name=study_name, storage_url=storage, space=space, target=target, budgets=config.budgets,
        objectives=config.objectives, trials=config.trials, timeout_s=config.timeout_s,
        fidelity=config.fidelity, sampler=config.sampler, seed=config.seed, dataset=config.dataset,
        heartbeat_s=args.heartbeat, early_stopping=not args.no_early_stopping,
        artifact_dir=args.artifacts or default_artifact_dir(storage) or str(out_dir / "artifacts"),
        reference_fp=config.reference_fp,
    )
    return settings, out_dir, warning


def run(args: argparse.Namespace) -> int:
    settings, out_dir, warning = _resolve_search(args)

    from dse.training.data import load_dataset
    from dse.device import select_device
    from dse.files import made_folder
    from dse.results.progress import Callbacks, ProgressBar, TrialPrinter
    from dse.results.front import front_document, write_results
    from dse.search.study import completed_count, open_study
    from dse.search.runner import run_search

    console = make_console(stderr=args.json)
    try:
        device = select_device(args.device)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    data = load_dataset(settings.dataset, seed=settings.seed)  # a corrupt data file is refused before any output
    for family in settings.space.families:  # a conv family on SHD's channels: refused before any output
        data.check_family(family)
    with made_folder(out_dir):  # a storage that cannot be opened or a clashing study leaves no folder behind
        study = open_study(settings)
    if warning:  # fp choices left out on a hardware target: one line, once every input (and the study) was accepted
        print(f"dse search: {warning}", file=sys.stderr)
    before = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    budgets = ", ".join(format_budget(q, v) for q, v in settings.budgets.items()) or "none"
    workers = f"{args.jobs} workers" if args.jobs > 1 else f"device {device}"
    console.print(
        f"dse search: study {settings.study_name!r} on {settings.target.name}, budgets {budgets}, "
        f"objectives {','.join(settings.objectives)}, {settings.trials} trials x {settings.fidelity.epochs} epochs, "
        f"sampler {settings.sampler}, {workers}, storage {settings.storage_url}"
        + (", fp searched as a non-deployable reference" if settings.reference_fp else "")
    )
    started = time.monotonic()
    quiet = args.quiet or args.json
    printer = None if quiet else TrialPrinter(console, settings.trials)
    bar = ProgressBar(console, settings.trials, completed_count(study)) if not quiet and console.is_terminal else None
    on_trial = Callbacks(printer, bar)
    interrupted = False
    try:
        with bar if bar is not None else contextlib.nullcontext(), FinishTrialOnInterrupt(console) as stop:
            if args.jobs > 1:
                from dse.search.workers import run_parallel

                study = run_parallel(settings, study, args.jobs, args.device, on_trial=on_trial, should_stop=stop.is_set)
            else:
                study = run_search(settings, data, device, on_trial=on_trial, study=study, should_stop=stop.is_set)
        if stop.is_set():
            raise KeyboardInterrupt
        if args.verify > 0:
            verify_front_verbosely(console, study, settings, data, device, args.verify, quiet)
        console.print(record_neurobench(study, settings, data))
    except KeyboardInterrupt:
        interrupted = True
        console.print("interrupted: completed trials are kept in the storage; the front so far:")
    if not args.json:
        print_front(console, study)
        reference_line = reference_points_line(study)
        if reference_line:
            console.print(reference_line)
    pareto_path, csv_path = write_results(study, settings.storage_url, out_dir)
    this_run = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.number not in before]
    console.print(screening_line(study, this_run))
    console.print(f"wrote {pareto_path} and {csv_path} ({time.monotonic() - started:.0f} s)")
    if args.json:
        print(json.dumps(front_document(study, settings.storage_url), indent=2))
    if interrupted:
        return EXIT_INTERRUPTED
    return search_exit_code(study, this_run)


def reference_points_line(study: Any) -> str | None:
    """'fp reference ...: trials N (accuracy A), ...' for the non-dominated reference trials; None when none."""
    from dse.results.front import reference_front

    reference = reference_front(study)
    if not reference:
        return None
    shown = ", ".join(f"{t.number} (accuracy {t.user_attrs.get('accuracy', float('nan')):.3f})" for t in reference)
    return f"full-precision reference, not deployable and kept off the front (pareto.json 'reference'): trials {shown}"


def search_exit_code(study: Any, this_run: list[Any]) -> int:
    """0 when the study holds a completed trial and the run did not end on a run of failures; else 1, with
    one line on stderr naming the failures (docs: README, exit codes)."""
    from dse.search.study import completed_count
    from dse.search.runner import MAX_CONSECUTIVE_FAILURES, failure_summary, stopped_on_failures

    if completed_count(study) == 0:
        print(f"dse search: error: no trial completed: {failure_summary(this_run)}", file=sys.stderr)
        return EXIT_FAILED
    if stopped_on_failures(this_run):
        print(f"dse search: error: stopped after {MAX_CONSECUTIVE_FAILURES} failed trials in a row: "
              f"{failure_summary(this_run)}", file=sys.stderr)
        return EXIT_FAILED
    return 0


class FinishTrialOnInterrupt:
    """While active, the first Ctrl-C asks the search to stop after its running trial (each worker's
    with --jobs; nothing is left half-done in the storage); a second one interrupts at once."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.requested = False
        self.previous: Any = None

    def is_set(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.console.print("stopping after the running trials (Ctrl-C again to abandon them)")

    def __enter__(self) -> "FinishTrialOnInterrupt":
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self.previous)


def record_neurobench(study: Any, settings: Any, data: Any) -> str:
    """NeuroBench's figures of the front members, stored for pareto.json (dse/results/neurobench_metrics.py); its line."""
    from dse.results.front import pareto_front
    from dse.results.neurobench_metrics import record_front, trial_model_loader

    loader = trial_model_loader(study, settings.storage_url, settings.artifact_dir)
    return record_front(study, pareto_front(study), data, loader)


def verify_front_verbosely(console: Any, study: Any, settings: Any, data: Any, device: Any, seeds: int, quiet: bool) -> None:
    """Retrain the short-fidelity front over `seeds` seeds (dse/verify.py), a line per member unless quiet."""
    from dse.search.verify import verification_epochs, verify_front

    epochs = verification_epochs(settings.fidelity.epochs)
    console.print(f"verifying the front: each member retrained {seeds} x {epochs} epochs")

    short_accuracy = {t.number: t.user_attrs.get("accuracy", float("nan")) for t in study.get_trials(deepcopy=False)}

    def report(member: Any) -> None:
        if not quiet:
            short = short_accuracy[member.trial]
            console.print(
                f"  trial {member.trial:>3}: accuracy {member.accuracy_mean:.3f} +- {member.accuracy_std:.3f} over "
                f"{len(member.seeds)} seeds (short training: {short:.3f}), {member.train_seconds:.1f} s"
            )

    members = verify_front(study, settings, data, device, seeds=seeds, on_member=report)
    flagged = [m.trial for m in members if m.flagged]
    if flagged:
        console.print(f"flagged after verification (dominated or over a budget): trials {', '.join(map(str, flagged))}")


def screening_line(study: Any, this_run: list[Any] | None = None) -> str:
    """How many completed trials the cost model screened out before training, and the share; the failures
    of this run (`this_run`: its finished trials) with their first distinct reasons."""
    from dse.results.progress import study_counts
    from dse.search.runner import failure_summary

    counts = study_counts(study)
    share = 100.0 * counts["screened"] / counts["complete"] if counts["complete"] else 0.0
    failed = f"{counts['failed']} failed" if this_run is None else f"{failure_summary(this_run)} in this run"
    return (
        f"{counts['complete']} completed trials: {counts['trained']} trained, {counts['screened']} screened before "
        f"training ({share:.0f} %), {counts['stopped']} stopped early; {failed}"
    )
