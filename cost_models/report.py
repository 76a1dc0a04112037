"""Stage 5 of the cost pipeline, the report: evaluate(candidate, target, activity) -> CostReport
(memory, ops, energy, resources, latency, per layer and total), and the search's quantity names.

It only assembles: layer specs (network.py) -> counts (ops.py) -> hardware template (fpga.py) ->
energy (energy.py), each stage reading the earlier ones and none reading this module.
With activity None the report is the no-training lower bound: no spike reaches any
spike-input layer, while layer 0's MACs and the per-timestep neuron sweeps still count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from cost_models.activity import Activity, LayerActivity, to_plain
from cost_models.energy import EnergyCoefficients, energy_coefficients, layer_energy
from cost_models.fpga import LayerHardware, layer_hardware, utilisation
from cost_models.latency import LayerTraffic, inference_cycles
from cost_models.network import LayerSpec, layer_specs
from cost_models.ops import StaticCounts, count_acs, count_effective_acs, static_counts
from cost_models.targets import Target, load_target
from search_spaces.candidate import Candidate

__all__ = [  # Activity and LayerActivity live in activity.py; kept importable from here
    "DYNAMIC_QUANTITIES", "QUANTITY_FIELDS", "QUANTITY_UNITS", "STATIC_QUANTITIES", "UTILISATION_FIELDS",
    "Activity", "CostReport", "LayerActivity", "LayerCost", "LayerStatic", "evaluate", "layer_static", "quantity",
]

# quantity name used by studies/search -> CostReport field
QUANTITY_FIELDS = {
    "energy": "energy_mj",
    "memory": "memory_bytes",
    "sops": "sops",
    "latency": "latency_s",
    "lut": "lut",
    "bram": "bram18",
    "dsp": "dsp",
    "ff": "ff",
}
QUANTITY_UNITS = {"energy": "mJ", "memory": "B", "latency": "s"}
STATIC_QUANTITIES = frozenset({"memory", "lut", "bram", "dsp", "ff"})  # decidable without training
DYNAMIC_QUANTITIES = frozenset({"energy", "sops", "latency"})  # no-activity report = lower bound


@dataclass(frozen=True)
class LayerCost:
    """Costs of one weight layer per inference. Energies in mJ; asic targets: no lut/ff/bram/dsp."""

    name: str
    kind: str
    n_weights: int
    n_neurons: int
    weight_bits: int | None
    membrane_bits: int | None  # readout: accumulator width
    parallelism: int
    weight_memory_bits: int
    membrane_memory_bits: int
    scale_memory_bits: int
    input_events: float
    output_spikes: float
    acs: float
    macs: int
    neuron_update_ops: int
    compute_energy_mj: float
    weight_memory_energy_mj: float
    membrane_memory_energy_mj: float
    static_energy_mj: float
    energy_mj: float
    weight_memory_kind: str  # sram | bram18 | lutram | none
    membrane_memory_kind: str
    lut: int | None
    ff: int | None
    bram18: int | None
    dsp: int | None
    lutram_luts: int | None
    latency_cycles: float  # the template's cycles (cost_models/latency.py); a mean over samples when measured
    # share of the device (percent of the target's capacity); None on ASIC targets
    lut_util_pct: float | None = None
    ff_util_pct: float | None = None
    bram_util_pct: float | None = None
    dsp_util_pct: float | None = None
    # synaptic events that meet a nonzero weight (NeuroBench's Effective_ACs; docs/cost-models.md#effective-acs);
    # equals acs when the activity says nothing about zero weights; None in reports stored before it existed
    effective_acs: float | None = None


UTILISATION_FIELDS = {"lut": "lut_util_pct", "ff": "ff_util_pct", "bram": "bram_util_pct", "dsp": "dsp_util_pct"}


@dataclass(frozen=True)
class CostReport:
    """Costs of one candidate on one target, per layer and total."""

    target: str
    target_kind: str
    lower_bound: bool  # True: no activity given, dynamic quantities are lower bounds
    layers: tuple[LayerCost, ...]
    weight_memory_bytes: float
    membrane_memory_bytes: float
    scale_memory_bytes: float
    memory_bytes: float  # weights + membranes + per-channel scales
    acs: float
    macs: int
    sops: float  # acs + macs
    compute_energy_mj: float
    memory_energy_mj: float
    static_energy_mj: float
    energy_mj: float
    latency_cycles: float  # sum of the layers': the template runs layers and timesteps one after another
    latency_s: float
    lut: int | None
    ff: int | None
    bram18: int | None
    dsp: int | None
    # percent of the device's capacity (FPGA targets; None on ASIC)
    lut_util_pct: float | None = None
    ff_util_pct: float | None = None
    bram_util_pct: float | None = None
    dsp_util_pct: float | None = None
    # the template takes the next inference when one is done (no overlap): interval = latency_cycles
    pipeline_interval_cycles: float = 0
    throughput_inferences_per_s: float = 0.0
    bottleneck_layer: str = ""
    # total of the layers' effective_acs (not in the energy, which books every AC: the template reads
    # every weight an event touches, zero or not); None in reports stored before it existed
    effective_acs: float | None = None

    def utilisation(self) -> dict[str, float | None]:
        """Percent of the device used, per resource: {'lut': .., 'ff': .., 'bram': .., 'dsp': ..}."""
        return {k: getattr(self, f) for k, f in UTILISATION_FIELDS.items()}

    def fits(self) -> bool | None:
        """Whether every resource is within the device (None on ASIC targets)."""
        util = self.utilisation()
        if any(v is None for v in util.values()):
            return None
        return all(v <= 100.0 for v in util.values())

    def quantity(self, name: str) -> float | None:
        """Value of a search quantity ('energy', 'memory', 'sops', 'latency', 'lut', ...)."""
        return quantity(self, name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (plain Python numbers, layers as a list of dicts)."""
        d = {f.name: to_plain(getattr(self, f.name)) for f in fields(self) if f.name != "layers"}
        d["layers"] = [{k: to_plain(v) for k, v in asdict(layer).items()} for layer in self.layers]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CostReport":
        """Inverse of to_dict."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown CostReport field(s) {unknown}")
        kwargs = dict(data)
        kwargs["layers"] = tuple(LayerCost(**layer) for layer in data["layers"])
        return cls(**kwargs)


def quantity(report: CostReport, name: str) -> float | None:
    """Map a search quantity name to its report value; None where the target has no such thing."""
    try:
        return getattr(report, QUANTITY_FIELDS[name])
    except KeyError:
        raise ValueError(
            f"unknown quantity {name!r}; accepted: {', '.join(QUANTITY_FIELDS)}"
        ) from None


@dataclass(frozen=True)
class LayerStatic:
    """Everything about a layer on a target that does not depend on activity, stage by stage."""

    counts: StaticCounts  # ops.py: MACs, neuron-update ops, stored bits
    hardware: LayerHardware  # fpga.py: resources, memory kinds, share of the device
    coeffs: EnergyCoefficients  # energy.py: per-action energies on the target


@lru_cache(maxsize=8192)
def layer_static(spec: LayerSpec, target: Target) -> LayerStatic:
    """The activity-independent stages of one layer on a target, cached per (layer, target)."""
    counts = static_counts(spec)
    hardware = layer_hardware(spec, target)
    coeffs = energy_coefficients(spec, target, hardware.weight_memory_kind, hardware.membrane_memory_kind)
    return LayerStatic(counts, hardware, coeffs)


def evaluate(
    candidate: Candidate, target: Target | str, activity: Activity | None = None
) -> CostReport:
    """Costs of a candidate on a target; activity None gives the no-training lower bound."""
    if isinstance(target, str):
        target = load_target(target)
    specs = layer_specs(candidate)
    if activity is not None:
        _check_activity(specs, activity)
    fpga = target.kind == "fpga"
    traffic = [_traffic(spec, activity) for spec in specs]
    cycles_per_layer = inference_cycles(specs, traffic, candidate.input_shape)  # the template, exactly
    layers = []
    for spec, cycles in zip(specs, cycles_per_layer):
        st = layer_static(spec, target)
        counts, hw = st.counts, st.hardware
        act = activity.layers.get(spec.name) if activity is not None else None
        events = act.input_events if (act is not None and spec.input_is_spike) else None
        acs = count_acs(spec, events) if spec.input_is_spike else 0.0  # counts
        effective = (
            count_effective_acs(spec, events, act.nonzero_weight_fraction, act.nonzero_fanout)
            if (spec.input_is_spike and act is not None) else acs
        )
        compute_mj, weight_mj, membrane_mj, static_mj, energy_mj = layer_energy(  # energy
            st.coeffs, acs, counts.macs, counts.neuron_ops, cycles, target
        )
        res = hw.resources
        layers.append(
            LayerCost(
                name=spec.name,
                kind=spec.kind,
                n_weights=spec.n_weights,
                n_neurons=spec.n_neurons,
                weight_bits=spec.weight_bits,
                membrane_bits=spec.membrane_bits,
                parallelism=spec.parallelism,
                weight_memory_bits=counts.weight_memory_bits,
                membrane_memory_bits=counts.membrane_memory_bits,
                scale_memory_bits=counts.scale_memory_bits,
                input_events=_event_total(events),
                output_spikes=float(act.output_spikes) if act is not None else 0.0,
                acs=acs,
                macs=counts.macs,
                neuron_update_ops=counts.neuron_ops,
                compute_energy_mj=compute_mj,
                weight_memory_energy_mj=weight_mj,
                membrane_memory_energy_mj=membrane_mj,
                static_energy_mj=static_mj,
                energy_mj=energy_mj,
                weight_memory_kind=hw.weight_memory_kind,
                membrane_memory_kind=hw.membrane_memory_kind,
                lut=res.lut if res else None,
                ff=res.ff if res else None,
                bram18=res.bram18 if res else None,
                dsp=res.dsp if res else None,
                lutram_luts=res.memory_lutram_luts if res else None,
                latency_cycles=cycles,
                **hw.util,
                effective_acs=effective,
            )
        )
    return _totals(target, activity is None, tuple(layers), fpga)


def _totals(target: Target, lower_bound: bool, layers: tuple[LayerCost, ...], fpga: bool) -> CostReport:
    wbits = sum(l.weight_memory_bits for l in layers)
    mbits = sum(l.membrane_memory_bits for l in layers)
    sbits = sum(l.scale_memory_bits for l in layers)
    acs = sum(l.acs for l in layers)
    macs = sum(l.macs for l in layers)
    compute = sum(l.compute_energy_mj for l in layers)
    memory = sum(l.weight_memory_energy_mj + l.membrane_memory_energy_mj for l in layers)
    static = sum(l.static_energy_mj for l in layers)
    cycles = sum(l.latency_cycles for l in layers)
    bottleneck = max(layers, key=lambda l: l.latency_cycles)  # the layer that takes most of the cycles
    interval = cycles
    totals = (
        sum(l.lut for l in layers), sum(l.ff for l in layers), sum(l.bram18 for l in layers),
        sum(l.dsp for l in layers),
    ) if fpga else (None, None, None, None)
    util = utilisation(*totals, target) if fpga else {}
    return CostReport(
        target=target.name,
        target_kind=target.kind,
        lower_bound=lower_bound,
        layers=layers,
        weight_memory_bytes=wbits / 8,
        membrane_memory_bytes=mbits / 8,
        scale_memory_bytes=sbits / 8,
        memory_bytes=(wbits + mbits + sbits) / 8,
        acs=acs,
        macs=macs,
        sops=acs + macs,
        compute_energy_mj=compute,
        memory_energy_mj=memory,
        static_energy_mj=static,
        energy_mj=compute + memory + static,
        latency_cycles=cycles,
        latency_s=cycles / target.clock_hz,
        lut=totals[0],
        ff=totals[1],
        bram18=totals[2],
        dsp=totals[3],
        pipeline_interval_cycles=interval,
        throughput_inferences_per_s=target.clock_hz / interval,
        bottleneck_layer=bottleneck.name,
        **util,
        effective_acs=sum(l.effective_acs for l in layers),
    )


def _check_activity(specs: tuple[LayerSpec, ...], activity: Activity) -> None:
    names = {s.name for s in specs}
    unknown = sorted(set(activity.layers) - names)
    if unknown:
        raise ValueError(f"activity names unknown layer(s) {unknown}; layers: {sorted(names)}")
    missing = [s.name for s in specs if s.input_is_spike and s.name not in activity.layers]
    if missing:
        raise ValueError(f"activity lacks spike-input layer(s) {missing}")


def _traffic(spec: LayerSpec, activity: Activity | None) -> LayerTraffic:
    """Events a layer reads and spikes it emits per inference (zero without activity: the lower bound)."""
    act = activity.layers.get(spec.name) if activity is not None else None
    if act is None:
        return LayerTraffic()
    events = _event_total(act.input_events) if spec.input_is_spike else 0.0
    return LayerTraffic(input_events=events, output_spikes=float(act.output_spikes))


def _event_total(events: float | np.ndarray | None) -> float:
    if events is None:
        return 0.0
    if isinstance(events, np.ndarray):
        return float(events.sum())
    return float(events)
