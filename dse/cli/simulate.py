"""`dse simulate`: run a Verilog export's self-checking testbench and compare it with the integer reference.

    dse simulate DIR [--simulator iverilog|verilator] [--target NAME|FILE] [--timeout S] [--saif FILE] [--vcd FILE] [--json]

DIR is the --out folder of `dse export --format verilog` (it holds tb_selfcheck.v, the input
samples and the integer reference's expected spikes and predictions: dse/hardware/selfcheck.py).
The testbench is compiled and run in a temporary folder; printed: prediction agreement, spike
agreement per layer, the measured cycles per inference and the cost model's latency of the same
design (cost_models/latency.py: per sample from its events and spikes, with the mean activity, and
the no-activity lower bound). Exit 0 when every spike and prediction matches and every sample's
cycles equal the cost model's; 1 on any mismatch (the first mismatching layer, timestep and neuron,
or sample and cycles, named); 2 on bad input (not a Verilog export, missing vectors, no simulator,
verilator asked for and unable to build the testbench), one line. --saif FILE / --vcd FILE: the
testbench is compiled with -DDSE_VCD and the design's switching activity is written as SAIF
(dse/hardware/saif.py; read by `dse estimate --activity`) and/or kept as VCD.

Registered in dse/cli/__init__.py's COMMANDS.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dse.cli._common import EXIT_FAILED
from dse.errors import UserError, load_user_target


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `simulate` subcommand; returns its parser."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate a Verilog export's self-checking testbench: spike and prediction agreement, cycles",
        description="Compile and run the self-checking testbench that `dse export --format verilog` writes "
        "(tb_selfcheck.v with input samples from the test split and the integer reference's expected spikes "
        "and predictions), in a temporary folder. Prints prediction agreement, spike agreement per layer, the "
        "measured cycles per inference and the cost model's latency for the same design. Exit 0: everything "
        "matches; 1: a mismatch (the first layer, timestep and neuron named); 2: bad input. See docs/export.md.",
    )
    p.add_argument("dir", metavar="DIR", help="folder written by `dse export --format verilog`")
    p.add_argument("--simulator", choices=("iverilog", "verilator"), default=None,
                   help="Icarus Verilog or Verilator (--binary --timing). Default: verilator when installed "
                   "(falling back to iverilog, with a note, when it cannot build the testbench), else iverilog")
    p.add_argument("--target", metavar="NAME|FILE", default=None,
                   help="target for the cost model's latency: default the one the export recorded, else fpga-small")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds allowed for compiling and for running the simulation, each (default 600)")
    p.add_argument("--saif", metavar="FILE", default=None,
                   help="also dump the design's switching activity and write it as a SAIF 2.0 file (per bit: T0, T1, "
                   "TX, TC), for `dse estimate --activity FILE` and Vivado's read_saif (docs/export.md#activity)")
    p.add_argument("--vcd", metavar="FILE", default=None,
                   help="also keep the raw VCD of the design (tb.dut) that the SAIF is made from")
    p.add_argument("--json", action="store_true", help="print the result as JSON (same exit codes)")
    return p


def _target(args: argparse.Namespace, export_doc: dict[str, Any], manifest: dict[str, Any]) -> tuple[Any, str]:
    """The target and where it came from: --target, the export's recorded one, else fpga-small."""
    from dse.hardware.selfcheck import DEFAULT_TARGET

    if args.target:
        return load_user_target(args.target), "--target"
    recorded = export_doc.get("target") or manifest.get("target")
    if recorded:
        try:
            return load_user_target(str(recorded)), "recorded in the export"
        except UserError:
            return load_user_target(DEFAULT_TARGET), f"default; the recorded target {recorded!r} is not found here"
    return load_user_target(DEFAULT_TARGET), "default; the export records no target"


def model_latency(folder: Path, export_doc: dict[str, Any], manifest: dict[str, Any], target: Any) -> dict[str, Any]:
    """The cost model's latency of the exported candidate (cost_models/latency.py): per sample from
    that sample's events and spikes, with the samples' mean activity, and with no activity (the
    lower bound the search screens with)."""
    from cost_models.latency import sample_cycles
    from cost_models.network import layer_specs
    from cost_models.report import evaluate
    from dse.hardware.selfcheck import sample_traffic, traffic_activity
    from search_spaces.candidate import Candidate

    try:
        candidate = Candidate.from_dict(dict(export_doc["candidate"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{folder / 'export.json'}: no readable candidate ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    bound = evaluate(candidate, target)
    out: dict[str, Any] = {"target": target.name, "clock_hz": target.clock_hz,
                           "latency_cycles_no_activity": bound.latency_cycles}
    try:
        specs = layer_specs(candidate)
        events, emitted = sample_traffic(folder, manifest, candidate)
        measured = evaluate(candidate, target, traffic_activity(specs, events, emitted))
        out["latency_cycles_measured_activity"] = measured.latency_cycles
        out["latency_s_measured_activity"] = measured.latency_s
        out["model_cycles_per_sample"] = [int(round(c)) for c in sample_cycles(specs, candidate.input_shape, events, emitted)]
    except (ValueError, KeyError) as exc:  # an activity the cost model does not take: report the bound only
        out["latency_cycles_measured_activity"] = None
        out["model_cycles_per_sample"] = None
        out["activity_note"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return out


def first_cycle_mismatch(measured: list[int], model: list[int] | None) -> tuple[int, int, int] | None:
    """(sample, measured, model) of the first sample whose simulated cycles differ from the cost model's."""
    if model is None:
        return None
    for sample, (a, b) in enumerate(zip(measured, model)):
        if a != b:
            return sample, a, b
    return None


def run(args: argparse.Namespace) -> int:
    """Execute `dse simulate`; returns 0 (all match) or 1 (a mismatch). UserError (exit 2) on bad input."""
    from dse.hardware.selfcheck import ActivityOutputs, load_export, run_selfcheck

    folder, export_doc, _params, manifest = load_export(args.dir)
    if args.timeout <= 0:
        raise UserError(f"--timeout must be positive, got {args.timeout:g}")
    target, target_source = _target(args, export_doc, manifest)
    if target.kind != "fpga":
        raise UserError(f"--target {args.target}: a {target.kind} target; the Verilog template's latency is an FPGA figure")
    outputs = ActivityOutputs.prepare(getattr(args, "saif", None), getattr(args, "vcd", None))  # --saif / --vcd
    try:
        result = run_selfcheck(folder, args.simulator, timeout_s=args.timeout,
                               vcd_to=outputs.scratch_vcd if outputs else None)
        activity = outputs.write(folder, export_doc, manifest, result) if outputs else {}
    except RuntimeError as exc:  # the simulator ran and failed: not a mismatch the design can be blamed for
        raise UserError(str(exc).splitlines()[0]) from None
    finally:
        if outputs:
            outputs.discard_scratch()
    latency = model_latency(folder, export_doc, manifest, target)
    cycles = result.design_cycles  # what the cost model counts: stream stalls left out
    cycle_mismatch = first_cycle_mismatch(cycles, latency.get("model_cycles_per_sample"))
    passed = result.passed and cycle_mismatch is None
    if args.json:
        doc = {
            "dir": str(folder), "simulator": result.simulator, "passed": passed, "samples": result.samples,
            "inputs": manifest.get("inputs_source", {}).get("description"),
            "predictions_matching": result.predictions_matching,
            "layers": [{"name": l.name, "matching": l.matching, "total": l.total, "expected_spikes": l.expected_spikes}
                       for l in result.layers],
            "first_spike_mismatch": None if result.first_spike_mismatch is None else vars(result.first_spike_mismatch),
            "first_prediction_mismatch": result.first_prediction_mismatch, "timeout": result.timeout,
            "cycles": cycles, "stall_cycles": result.stall_cycles,
            "first_cycle_mismatch": None if cycle_mismatch is None else dict(zip(("sample", "measured", "model"), cycle_mismatch)),
            "target_source": target_source, **latency, "notes": result.notes, "activity": activity,
        }
        print(json.dumps(doc, indent=2))
        return 0 if passed else EXIT_FAILED
    for note in result.notes:
        print(f"note: {note}")
    source = manifest.get("inputs_source", {}).get("description", "")
    print(f"dse simulate {folder}: {result.simulator}, {result.samples} samples ({source})")
    pct = 100.0 * result.predictions_matching / max(result.samples, 1)
    print(f"predictions: {result.predictions_matching}/{result.samples} agree ({pct:.2f} %)")
    for l in result.layers:
        print(f"spikes {l.name}: {l.matching}/{l.total} agree ({100.0 * l.fraction:.2f} %; {l.expected_spikes} spikes expected)")
    if cycles:
        mean = sum(cycles) / len(cycles)
        kind = "start to done" if manifest.get("input_kind") != "events" else \
            f"frame 0 to done, {sum(result.stall_cycles)} stream stall cycles left out"
        print(f"cycles per inference (measured, {kind}): mean {mean:.1f}, min {min(cycles)}, max {max(cycles)}")
    model = latency.get("model_cycles_per_sample")
    if model is not None and cycles:
        same = sum(a == b for a, b in zip(cycles, model))
        print(f"cost model cycles with each sample's events and spikes: {same}/{len(cycles)} samples equal the measured")
    measured = latency.get("latency_cycles_measured_activity")
    with_spikes = (f"{measured:.1f} cycles ({measured / latency['clock_hz'] * 1e6:.4g} us) with the samples' mean activity, "
                   if measured is not None else "")
    print(f"cost model latency ({latency['target']}, {target_source}, {latency['clock_hz'] / 1e6:g} MHz): {with_spikes}"
          f"{latency['latency_cycles_no_activity']:.0f} with no activity (lower bound)")
    if "saif" in activity:
        saif = activity["saif"]
        print(f"switching activity: {saif['file']} (SAIF; {saif['bits']} net bits, {saif['toggles']} toggles over "
              f"{saif['inferences']} inferences; dse estimate --activity {saif['file']})")
    if "vcd" in activity:
        print(f"VCD of the design: {activity['vcd']['file']}")
    if passed:
        print("result: PASS (every spike and prediction equals the integer reference; cycles equal the cost model's)")
        return 0
    if cycle_mismatch is not None:
        s, a, b = cycle_mismatch
        print(f"result: FAIL: sample {s} took {a} cycles, the cost model counts {b} (cost_models/latency.py)")
    if result.timeout is not None:
        print(f"result: FAIL: sample {result.timeout[0]} did not finish within {result.timeout[1]} cycles")
    m = result.first_spike_mismatch
    if m is not None:
        print(f"result: FAIL: first mismatch at layer {m.name} timestep {m.timestep} neuron {m.neuron} "
              f"(sample {m.sample}): expected {m.expected}, got {m.got}")
    if result.first_prediction_mismatch is not None:
        s, e, g = result.first_prediction_mismatch
        print(f"{'result: FAIL: ' if m is None and result.timeout is None else ''}first prediction mismatch: "
              f"sample {s}: expected class {e}, got {g}")
    if m is None and result.first_prediction_mismatch is None and result.timeout is None and not result.passed:
        print("result: FAIL: the testbench did not see every inference finish")
    return EXIT_FAILED
