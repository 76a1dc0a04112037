"""Compatibility mode: the figures SpikingJelly 2.0's op_counter gives for a candidate's network.

Papers often quote `spikingjelly.activation_based.op_counter.estimate_simple_energy` (a 45 nm
fp32 comparison regime) or `SynOpCounter`. `spikingjelly_simple_energy()` reproduces both from
the network description and an Activity, without torch, so our estimates can be set beside
published ones on the same footing. It is NOT our hardware model (see report.evaluate): it
prices every operation as fp32 whatever the bit widths, and every byte at one flat cost.

Reference network (what the figures are "of"): the candidate's layers as spikingjelly
`layer.Linear` / `layer.Conv2d` (no bias, fp32 parameters, multi-step) with the project's neuron
`dse.training.neurons.FixedPointLIFNode` (spikingjelly's LIFNode, tau=2, decay_input, hard reset to 0,
when the membrane is full precision), pooling `layer.MaxPool2d(2, 2)` / `layer.AvgPool2d(2, 2)`,
the static input repeated over T. Accounting of spikingjelly 2.0 (op_counter/simple_energy.py,
mac.py, ac.py, synop.py, neuromorphic_memory_access.py):

- MAC (MACCounter): mm / convolution whose operands are both non-binary: out_numel x fan_in,
  dense (padding positions included). Layer 0 (analog input), and a layer fed by avg pooling
  (its input takes the values 0, 1/4, ... 1, not binary) whenever it receives any event.
- AC (ACCounter): (a) synaptic: mm / convolution with a binary (spike) operand: nnz(input) x
  out_features, or the exact conv weight-use count (= SynOps); (b) element-wise add / sub /
  rsub where not both operands are binary: out.numel() each; the LIF update does 6 of them per
  neuron per timestep (charge: 2 sub + 1 add; fire: 1 sub; hard reset: 1 rsub + 1 add), the
  fixed-point LIF 8 (its round-to-grid straight-through estimator adds 1 sub + 1 add);
  (c) avg_pool2d: out.numel() x (kernel area - 1) = 3 per pooled output.
- SynOps (SynOpCounter): (a) only; informative, not in the energy.
- Bytes (NeuromorphicMemoryAccessCounter): weights actually used, weight_uses x element size
  (binary input: the synaptic count; otherwise out_numel x fan_in); biases: none here; each
  neuron layer: its state tensor (v) read once and written once per timestep, numel x element
  size x T each. The element size is the runtime dtype's (fp32: 4 bytes).
- Energy = MAC x 4.6 pJ + AC x 0.9 pJ + bytes x 24.96 pJ/B (SimpleEnergyCostConfig.fp32()).

All counts are per inference (one sample); spikingjelly's are per batch, so divide them by the
batch size to compare. Where the tensors hit a special case spikingjelly treats differently (an
element-wise op whose two operands happen to be binary, e.g. a layer whose input current is
exactly zero at the first timestep; an avg-pooled map whose nonzero values are all exactly 1),
the neuron-op ACs differ slightly; tests/test_estimate.py checks the energy within 1 % and MACs,
SynOps and bytes exactly. docs/cost-models.md#compat has the details.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from cost_models.activity import Activity
from cost_models.network import LayerSpec, layer_specs
from cost_models.ops import count_acs
from search_spaces.candidate import Candidate

# SpikingJelly 2.0 SimpleEnergyCostConfig.fp32() (Horowitz 2014, 45 nm fp32; 3.12 pJ/bit as STEP)
SJ_E_MAC_PJ = 4.6
SJ_E_AC_PJ = 0.9
SJ_E_MEMORY_PJ_PER_BYTE = 24.96
FP32_BYTES = 4
# element-wise add/sub/rsub ops per neuron per timestep that spikingjelly's ACCounter counts
LIF_ELEMENTWISE_OPS = 6  # spikingjelly LIFNode / FixedPointLIFNode(bits=None)
FIXED_POINT_LIF_ELEMENTWISE_OPS = 8  # dse.training.neurons.FixedPointLIFNode(bits): + round_ste's sub and add
AVG_POOL_AREA = 4  # 2 x 2 kernel: 3 adds per pooled output


@dataclass(frozen=True)
class SpikingJellyLayer:
    """Per-inference counts of one weight layer (and its neuron and pooling) as spikingjelly counts them."""

    name: str
    mac: float
    synop: float  # synaptic ACs (binary input)
    neuron_ac: float  # element-wise ops of the neuron update
    pool_ac: float  # avg pooling adds after this layer
    weight_read_bytes: float
    neuron_state_read_bytes: float
    neuron_state_write_bytes: float

    @property
    def ac(self) -> float:
        return self.synop + self.neuron_ac + self.pool_ac


@dataclass(frozen=True)
class SpikingJellyReport:
    """estimate_simple_energy's figures for one inference of the candidate's reference network."""

    layers: tuple[SpikingJellyLayer, ...]
    mac: float
    ac: float
    synop: float
    weight_read_bytes: float
    bias_read_bytes: float
    neuron_state_read_bytes: float
    neuron_state_write_bytes: float
    memory_access_bytes: float
    energy_mac_pj: float
    energy_ac_pj: float
    energy_memory_pj: float
    energy_total_pj: float
    e_mac_pj: float
    e_ac_pj: float
    e_memory_pj_per_byte: float
    dtype_bytes: int

    @property
    def energy_mj(self) -> float:
        return self.energy_total_pj * 1e-9

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: totals, energy in pJ and mJ, per-layer counts."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "layers"}
        d["energy_mj"] = self.energy_mj
        d["layers"] = [{**asdict(layer), "ac": layer.ac} for layer in self.layers]
        return d


def _events(activity: Activity | None, spec: LayerSpec) -> float | np.ndarray | None:
    if activity is None or not spec.input_is_spike:
        return None
    act = activity.layers.get(spec.name)
    if act is None:
        raise ValueError(f"activity lacks spike-input layer {spec.name!r}")
    return act.input_events


def _total(events: float | np.ndarray | None) -> float:
    if events is None:
        return 0.0
    return float(np.asarray(events, dtype=np.float64).sum())


def spikingjelly_simple_energy(
    candidate: Candidate,
    activity: Activity | None = None,
    *,
    neuron_ops_per_step: int | None = None,
    e_mac_pj: float = SJ_E_MAC_PJ,
    e_ac_pj: float = SJ_E_AC_PJ,
    e_memory_pj_per_byte: float = SJ_E_MEMORY_PJ_PER_BYTE,
    dtype_bytes: int = FP32_BYTES,
) -> SpikingJellyReport:
    """SpikingJelly's estimate_simple_energy for one inference of the candidate's network.

    activity: per-layer input events (exact per-position arrays reproduce spikingjelly's conv
    weight-use counts exactly; totals use the mean fan-out); None = no spikes anywhere.
    neuron_ops_per_step: element-wise ops of one neuron update; None = 6 for a full-precision
    membrane (LIFNode), 8 for a quantized one (FixedPointLIFNode). The cost constants default
    to SimpleEnergyCostConfig.fp32(); pass .fp16()/.int8() values to mirror those presets.
    """
    for name, value in (("e_mac_pj", e_mac_pj), ("e_ac_pj", e_ac_pj), ("e_memory_pj_per_byte", e_memory_pj_per_byte)):
        _check_nonnegative(name, value)
    specs = layer_specs(candidate)
    layers = []
    for i, spec in enumerate(specs):
        T = spec.timesteps
        events = _events(activity, spec)
        after_avg = i > 0 and specs[i - 1].pool_after == "avg"
        dense_uses = float(T * spec.fan_in * spec.n_neurons)  # out_numel x fan_in over T
        if not spec.input_is_spike or (after_avg and _total(events) > 0):
            mac, synop, uses = dense_uses, 0.0, dense_uses
        else:
            synop = count_acs(spec, events)
            mac, uses = 0.0, synop
        neuron_ac = state = 0.0
        if spec.spiking:
            ops = neuron_ops_per_step
            if ops is None:
                ops = LIF_ELEMENTWISE_OPS if spec.membrane_bits is None else FIXED_POINT_LIF_ELEMENTWISE_OPS
            neuron_ac = float(ops * spec.n_neurons * T)
            state = float(spec.n_neurons * dtype_bytes * T)
        pool_ac = 0.0
        if spec.pool_after == "avg":
            c, h, w = spec.out_shape
            pool_ac = float(T * c * (h // 2) * (w // 2) * (AVG_POOL_AREA - 1))
        layers.append(
            SpikingJellyLayer(
                name=spec.name, mac=mac, synop=synop, neuron_ac=neuron_ac, pool_ac=pool_ac,
                weight_read_bytes=uses * dtype_bytes, neuron_state_read_bytes=state,
                neuron_state_write_bytes=state,
            )
        )
    mac = sum(l.mac for l in layers)
    ac = sum(l.ac for l in layers)
    wbytes = sum(l.weight_read_bytes for l in layers)
    sread = sum(l.neuron_state_read_bytes for l in layers)
    swrite = sum(l.neuron_state_write_bytes for l in layers)
    mem = wbytes + sread + swrite
    e_mac, e_ac, e_mem = mac * e_mac_pj, ac * e_ac_pj, mem * e_memory_pj_per_byte
    return SpikingJellyReport(
        layers=tuple(layers), mac=mac, ac=ac, synop=sum(l.synop for l in layers),
        weight_read_bytes=wbytes, bias_read_bytes=0.0, neuron_state_read_bytes=sread,
        neuron_state_write_bytes=swrite, memory_access_bytes=mem, energy_mac_pj=e_mac,
        energy_ac_pj=e_ac, energy_memory_pj=e_mem, energy_total_pj=e_mac + e_ac + e_mem,
        e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj, e_memory_pj_per_byte=e_memory_pj_per_byte,
        dtype_bytes=dtype_bytes,
    )


def synops(candidate: Candidate, activity: Activity | None) -> float:
    """SpikingJelly SynOpCounter's total for one inference: ACs of binary-input layers only
    (a layer fed by avg pooling reads non-binary values and counts 0 when it gets any event)."""
    return spikingjelly_simple_energy(candidate, activity).synop


def _check_nonnegative(name: str, value: float) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
