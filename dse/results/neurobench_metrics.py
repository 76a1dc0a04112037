"""NeuroBench's own figures of a front member, next to the project's counts on the same network and input.

The `neurobench` package (optional extra) computes Footprint, ConnectionSparsity, ActivationSparsity and
SynapticOperations (Effective_ACs, Effective_MACs, Dense) on the standard-layer export of the trained
model (dse/export/standard_layers.py), over the samples of the study's test split; the project's
bit-true memory and its dense, effective and MAC counts are measured on the same model and samples.
The definitions differ (docs/cost-models.md#neurobench). Records are kept as study user attributes
'neurobench:<trial>' (finished trials take no new attributes), read here without torch; neurobench
and torch are imported only inside the functions that measure.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

EXTRA = "neurobench"
INSTALL_HINT = 'pip install -e ".[neurobench]"'
MISSING_NOTE = f"NeuroBench figures need the optional extra '{EXTRA}': {INSTALL_HINT}"
DOCS = "docs/cost-models.md#neurobench"
NOTE = (f"'neurobench' of a front member: NeuroBench's figures (the neurobench package on the standard-layer export) "
        f"and the project's counts ('dse'), both per sample on the same weights and test-split samples; the definitions "
        f"differ ({DOCS}). Measured by dse search and dse report when the extra '{EXTRA}' is installed ({INSTALL_HINT}); "
        f"null: not measured")
RECORD_PREFIX = "neurobench:"
SPLIT = "test"
FLOAT32_EXACT = 2**24  # NeuroBench sums its counts in the model's float32: exact while each sum stays below this
MAX_BATCH = 256


def neurobench_version() -> str | None:
    """The installed neurobench's version, or None when the extra is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neurobench")
    except PackageNotFoundError:
        return None


def dse_counts(candidate: Any, activity: Any) -> dict[str, Any]:
    """The project's counts per inference from a measured Activity (those of cost_models.report.evaluate,
    which do not depend on the target): bit-true memory, dense ACs, effective ACs and layer-0 MACs."""
    from cost_models.network import layer_specs
    from cost_models.ops import count_acs, count_effective_acs, static_counts

    memory_bits = macs = 0
    acs = effective = 0.0
    for spec in layer_specs(candidate):
        counts = static_counts(spec)
        memory_bits += counts.weight_memory_bits + counts.membrane_memory_bits + counts.scale_memory_bits
        macs += counts.macs
        act = activity.layers.get(spec.name)
        if spec.input_is_spike and act is not None:
            acs += count_acs(spec, act.input_events)
            effective += count_effective_acs(spec, act.input_events, act.nonzero_weight_fraction, act.nonzero_fanout)
    return {"memory_bits": int(memory_bits), "acs": float(acs), "effective_acs": float(effective), "macs": int(macs)}


def exact_batch_size(candidate: Any, limit: int = MAX_BATCH) -> tuple[int, bool]:
    """Samples per forward call that keep NeuroBench's float32 sums exact (every layer's all-ones count of
    one call, batch x T x weight uses of a dense input, below 2^24), at most `limit`; and whether even
    one sample does (False: its counts carry float32 rounding, relative error about 1e-7)."""
    from cost_models.network import layer_specs
    from cost_models.ops import dense_weight_uses

    per_sample = max(candidate.timesteps * dense_weight_uses(spec) for spec in layer_specs(candidate))
    batch = (FLOAT32_EXACT - 1) // per_sample
    return max(1, min(limit, batch)), batch >= 1


def neurobench_figures(model: Any, split: Any, batch_size: int = MAX_BATCH) -> dict[str, Any]:
    """NeuroBench's metrics of the trained SpikingNet `model` over `split` (per sample, averaged), computed by
    the neurobench package on its standard-layer export. The metric classes are called as
    neurobench.benchmarks.Benchmark.run calls them, except that a failing metric raises here (Benchmark
    prints the error and reports None or 0.0). ImportError when neurobench is not installed."""
    import torch
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel

    from dse.export.standard_layers import standard_layer_model

    net = standard_layer_model(model).cpu()
    wrapped = TorchModel(net)
    for neuron_type in net.neuron_types:  # spikingjelly and the project's neurons: NeuroBench knows only ReLU/Sigmoid/snntorch
        wrapped.add_activation_module(neuron_type)
    figures: dict[str, Any] = {"Footprint": int(Footprint()(wrapped)), "ConnectionSparsity": float(ConnectionSparsity()(wrapped))}
    activation, synops = ActivationSparsity(), SynapticOperations()
    synops.reset()
    n = len(split)
    sparsity = 0.0
    wrapped.register_hooks()
    try:
        with torch.no_grad():
            for i in range(0, n, batch_size):
                data = (split.x[i : i + batch_size].cpu(), split.y[i : i + batch_size].cpu())
                preds = wrapped(data[0])
                sparsity += float(activation(wrapped, preds, data)) * len(data[0]) / n
                synops(wrapped, preds, data)
                wrapped.reset_hooks()
    finally:
        wrapped.cleanup_hooks()
    ops = synops.compute()
    figures["ActivationSparsity"] = sparsity
    figures["SynapticOperations"] = {k: float(ops[k]) for k in ("Effective_MACs", "Effective_ACs", "Dense")}
    return figures


def member_record(model: Any, split: Any, split_name: str = SPLIT) -> dict[str, Any]:
    """One front member's record (JSON-safe): NeuroBench's figures and the project's counts, both measured on
    the same trained weights and the same samples of `split`."""
    from dse.training.train import measure

    batch, exact = exact_batch_size(model.candidate)
    started = time.perf_counter()
    figures = neurobench_figures(model, split, batch)
    _, activity, _, _ = measure(model, split.to(next(model.parameters()).device), MAX_BATCH)
    return {
        "split": split_name, "samples": len(split), "neurobench_version": neurobench_version(),
        "counts_exact": exact, "seconds": round(time.perf_counter() - started, 3),
        "neurobench": figures, "dse": dse_counts(model.candidate, activity),
    }


def stored_records(study: Any, numbers: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    """The records stored in the study (study user attributes 'neurobench:<trial>'), by trial number."""
    wanted = None if numbers is None else set(numbers)
    out: dict[int, dict[str, Any]] = {}
    for key, value in study.user_attrs.items():
        if key.startswith(RECORD_PREFIX) and isinstance(value, dict):
            try:
                number = int(key[len(RECORD_PREFIX):])
            except ValueError:
                continue
            if wanted is None or number in wanted:
                out[number] = value
    return out


def front_records(
    study: Any, members: list[Any], data: Any, load_model: Callable[[Any], Any], store: bool,
) -> dict[int, dict[str, Any] | str]:
    """Each member's record: stored, else measured on `data.test` (and stored when `store`); a member whose
    model cannot be loaded (UserError) gets the reason as a string. `load_model(trial)` -> SpikingNet."""
    from dse.errors import UserError

    records: dict[int, dict[str, Any] | str] = dict(stored_records(study, (t.number for t in members)))
    for trial in members:
        if trial.number in records:
            continue
        if len(data.test) == 0:
            records[trial.number] = f"the data set {getattr(data, 'name', '')!r} has no {SPLIT} samples"
            continue
        try:
            model = load_model(trial)
        except UserError as exc:
            records[trial.number] = str(exc)
            continue
        try:
            record = member_record(model, data.test)
        except Exception as exc:  # a figure that fails must not cost the search its pareto.json or the report
            records[trial.number] = f"NeuroBench failed on trial {trial.number}: {type(exc).__name__}: {str(exc)[:200]}"
            continue
        records[trial.number] = record
        if store:
            study.set_user_attr(f"{RECORD_PREFIX}{trial.number}", record)
    return records


def record_front(study: Any, members: list[Any], data: Any, load_model: Callable[[Any], Any]) -> str:
    """dse search: measure and store the records the members lack; returns the one line it prints."""
    if neurobench_version() is None:
        return MISSING_NOTE
    started = time.perf_counter()
    before = set(stored_records(study, (t.number for t in members)))
    records = front_records(study, members, data, load_model, store=True)
    failed = {n: r for n, r in records.items() if isinstance(r, str)}
    measured = len(records) - len(failed) - len(before)
    line = (f"NeuroBench figures of {len(records) - len(failed)} front member(s) on the {SPLIT} split, {measured} measured now "
            f"({time.perf_counter() - started:.1f} s; pareto.json 'neurobench', {DOCS})")
    if failed:
        line += f"; none for trial(s) {', '.join(map(str, sorted(failed)))}: {next(iter(failed.values()))}"
    return line


def trial_model_loader(study: Any, storage_url: str, artifact_dir: str | None = None) -> Callable[[Any], Any]:
    """load_model(trial) for front_records: the trial's stored weights (its Optuna artifact), as `dse export` loads them."""
    from dse.training.artifacts import default_artifact_dir, load_model, load_trial_checkpoint

    def load(trial: Any) -> Any:
        hint = "its NeuroBench figures need its trained weights"
        checkpoint = load_trial_checkpoint(trial, artifact_dir, study.study_name, hint, fallback_dir=default_artifact_dir(storage_url))
        return load_model(checkpoint, f"model artifact of trial {trial.number}")

    return load


__all__ = [
    "DOCS", "EXTRA", "INSTALL_HINT", "MISSING_NOTE", "NOTE", "RECORD_PREFIX", "SPLIT", "dse_counts", "exact_batch_size",
    "front_records", "member_record", "neurobench_figures", "neurobench_version", "record_front", "stored_records",
    "trial_model_loader",
]
