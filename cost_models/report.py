"""evaluate(candidate, target, activity) -> CostReport: memory, ops, energy, resources, latency.

With activity None the report is the no-training lower bound: no spike reaches any
spike-input layer, while layer 0's MACs and the per-timestep neuron sweeps still count.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from cost_models.energy import PJ_TO_MJ, EnergyCoefficients, energy_coefficients, membrane_state_bits
from cost_models.fpga import LayerResources, latency_cycles, layer_resources
from cost_models.network import LayerSpec, layer_specs
from cost_models.ops import count_acs, count_macs, neuron_update_ops
from cost_models.targets import Target, load_target
from search_spaces.candidate import Candidate

SCALE_BITS = 16  # one fp16 scale per output channel of a quantized layer

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
class LayerActivity:
    """Measured activity of one layer, per inference (mean over samples, summed over T).

    input_events: nonzero input elements, as a total (float) or per input position (ndarray of
    the layer's in_shape) for exact conv counts. output_spikes: spikes emitted (0 for readout).
    """

    input_events: float | np.ndarray
    output_spikes: float = 0.0


@dataclass(frozen=True)
class Activity:
    """Activity of a whole network keyed by layer name ('layer0', 'layer1', ...)."""

    layers: dict[str, LayerActivity]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (arrays become nested lists)."""
        return {
            name: {"input_events": _plain(a.input_events), "output_spikes": float(a.output_spikes)}
            for name, a in self.layers.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Activity":
        layers = {}
        for name, a in data.items():
            events = a["input_events"]
            events = np.asarray(events, dtype=np.float64) if isinstance(events, list) else float(events)
            layers[name] = LayerActivity(events, float(a.get("output_spikes", 0.0)))
        return cls(layers)


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
    latency_cycles: int
    # share of the device (percent of the target's capacity); None on ASIC targets
    lut_util_pct: float | None = None
    ff_util_pct: float | None = None
    bram_util_pct: float | None = None
    dsp_util_pct: float | None = None


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
    latency_cycles: int
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
    # layer-wise pipeline: a new inference enters every max-layer-cycles (docs: throughput)
    pipeline_interval_cycles: int = 0
    throughput_inferences_per_s: float = 0.0
    bottleneck_layer: str = ""

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
        d = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "layers"}
        d["layers"] = [{k: _plain(v) for k, v in asdict(layer).items()} for layer in self.layers]
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
class _LayerStatic:
    """Everything about a layer on a target that does not depend on activity."""

    resources: LayerResources | None
    weight_memory_kind: str
    membrane_memory_kind: str
    coeffs: EnergyCoefficients
    macs: int
    neuron_ops: int
    weight_memory_bits: int
    membrane_memory_bits: int
    scale_memory_bits: int
    util: dict[str, float]  # per-layer percent of the device (FPGA), {} on ASIC


@lru_cache(maxsize=8192)
def _layer_static(spec: LayerSpec, target: Target) -> _LayerStatic:
    if target.kind == "fpga":
        res = layer_resources(spec, target.template)
        wkind = res.weight_memory.kind if res.weight_memory.kind != "none" else "lutram"
        mkind = res.membrane_memory.kind if res.membrane_memory.kind != "none" else "lutram"
    else:
        res, wkind, mkind = None, "sram", "sram"
    state_bits = membrane_state_bits(spec)
    return _LayerStatic(
        resources=res,
        weight_memory_kind=wkind,
        membrane_memory_kind=mkind if state_bits else "none",
        coeffs=energy_coefficients(spec, target, wkind, mkind),
        macs=count_macs(spec),
        neuron_ops=neuron_update_ops(spec),
        weight_memory_bits=spec.n_weights * spec.weight_storage_bits,
        membrane_memory_bits=spec.n_neurons * state_bits,
        scale_memory_bits=SCALE_BITS * spec.out_channels if spec.weight_bits is not None else 0,
        util=_utilisation(res.lut, res.ff, res.bram18, res.dsp, target) if res is not None else {},
    )


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
    layers = []
    for spec in specs:
        st = _layer_static(spec, target)
        act = activity.layers.get(spec.name) if activity is not None else None
        events = act.input_events if (act is not None and spec.input_is_spike) else None
        acs = count_acs(spec, events) if spec.input_is_spike else 0.0
        c = st.coeffs
        compute_pj = acs * c.ac_compute_pj + st.macs * c.mac_compute_pj + st.neuron_ops * c.neuron_op_pj
        weight_pj = (acs + st.macs) * c.weight_read_pj
        membrane_pj = c.membrane_pj_per_inference
        cycles = latency_cycles(spec, acs, st.macs)
        static_mj = target.static_power_w * cycles / target.clock_hz * 1e3
        compute_mj, weight_mj, membrane_mj = (x * PJ_TO_MJ for x in (compute_pj, weight_pj, membrane_pj))
        res = st.resources
        layers.append(
            LayerCost(
                name=spec.name,
                kind=spec.kind,
                n_weights=spec.n_weights,
                n_neurons=spec.n_neurons,
                weight_bits=spec.weight_bits,
                membrane_bits=spec.membrane_bits,
                parallelism=spec.parallelism,
                weight_memory_bits=st.weight_memory_bits,
                membrane_memory_bits=st.membrane_memory_bits,
                scale_memory_bits=st.scale_memory_bits,
                input_events=_event_total(events),
                output_spikes=float(act.output_spikes) if act is not None else 0.0,
                acs=acs,
                macs=st.macs,
                neuron_update_ops=st.neuron_ops,
                compute_energy_mj=compute_mj,
                weight_memory_energy_mj=weight_mj,
                membrane_memory_energy_mj=membrane_mj,
                static_energy_mj=static_mj,
                energy_mj=compute_mj + weight_mj + membrane_mj + static_mj,
                weight_memory_kind=st.weight_memory_kind,
                membrane_memory_kind=st.membrane_memory_kind,
                lut=res.lut if res else None,
                ff=res.ff if res else None,
                bram18=res.bram18 if res else None,
                dsp=res.dsp if res else None,
                lutram_luts=res.memory_lutram_luts if res else None,
                latency_cycles=cycles,
                **st.util,
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
    bottleneck = max(layers, key=lambda l: l.latency_cycles)
    interval = bottleneck.latency_cycles
    totals = (
        sum(l.lut for l in layers), sum(l.ff for l in layers), sum(l.bram18 for l in layers),
        sum(l.dsp for l in layers),
    ) if fpga else (None, None, None, None)
    util = _utilisation(*totals, target) if fpga else {}
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
    )


def _utilisation(lut: int, ff: int, bram18: int, dsp: int, target: Target) -> dict[str, float]:
    """Percent of the target's capacity per resource (FPGA targets only)."""
    caps = target.capacities
    return {
        "lut_util_pct": 100.0 * lut / caps["lut"],
        "ff_util_pct": 100.0 * ff / caps["ff"],
        "bram_util_pct": 100.0 * bram18 / caps["bram18"],
        "dsp_util_pct": 100.0 * dsp / caps["dsp"],
    }


def _check_activity(specs: tuple[LayerSpec, ...], activity: Activity) -> None:
    names = {s.name for s in specs}
    unknown = sorted(set(activity.layers) - names)
    if unknown:
        raise ValueError(f"activity names unknown layer(s) {unknown}; layers: {sorted(names)}")
    missing = [s.name for s in specs if s.input_is_spike and s.name not in activity.layers]
    if missing:
        raise ValueError(f"activity lacks spike-input layer(s) {missing}")


def _event_total(events: float | np.ndarray | None) -> float:
    if events is None:
        return 0.0
    if isinstance(events, np.ndarray):
        return float(events.sum())
    return float(events)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain Python for JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
