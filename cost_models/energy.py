"""Stage 4 of the cost pipeline, energy: per-operation and per-access energies interpolated from
the target's table, times the counts, plus static power x latency.

Energy = action counts x per-action energy (the Accelergy split): ops.py counts, fpga.py says
which memory each buffer is and how many cycles a layer takes, the target YAML holds the table;
this module interpolates the table and multiplies. All energies in pJ inside, mJ at the
boundary (PJ_TO_MJ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cost_models.network import LayerSpec
from cost_models.ops import membrane_state_bits
from cost_models.targets import MemorySpec, Target

PJ_TO_MJ = 1e-9


def _loglog(anchors: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise power law through (x, y) anchors; the end segments extend beyond them."""
    if len(anchors) == 1:
        return anchors[0][1]
    for i in range(len(anchors) - 1):
        (x0, y0), (x1, y1) = anchors[i], anchors[i + 1]
        if x <= x1 or i == len(anchors) - 2:
            slope = math.log(y1 / y0) / math.log(x1 / x0)
            return y0 * (x / x0) ** slope
    raise AssertionError("unreachable")


def add_pj(target: Target, bits: int | None) -> float:
    """One add at `bits` (None = fp32): power law through the int-add anchors."""
    if bits is None:
        return target.fp32_add_pj
    return _loglog(target.int_add_pj, float(bits))


def mult_pj(target: Target, bits_a: int | None, bits_b: int | None) -> float:
    """One a x b multiply; an array multiplier grows with a*b, so the square-width law is
    evaluated at the geometric-mean width sqrt(a*b). Any fp operand makes it an fp32 mult."""
    if bits_a is None or bits_b is None:
        return target.fp32_mult_pj
    return _loglog(target.int_mult_pj, math.sqrt(bits_a * bits_b))


def memory_access_pj(spec: MemorySpec, bits: float, capacity_bytes: float) -> float:
    """One read (or write) of `bits` from a buffer of `capacity_bytes` of this memory kind."""
    if bits <= 0:
        return 0.0
    if spec.pj_per_bit is not None:
        return spec.pj_per_bit * bits
    per_access = _loglog(spec.anchors, max(capacity_bytes, 1.0))
    return per_access * bits / spec.access_bits


@dataclass(frozen=True)
class EnergyCoefficients:
    """Per-action energies of one layer on one target (pJ); the counts come from ops.py."""

    ac_compute_pj: float  # one accumulate at the accumulator width
    mac_compute_pj: float  # one multiply (W x input bits) + accumulate
    weight_read_pj: float  # one weight fetch (per AC and per MAC)
    neuron_op_pj: float  # one add-equivalent op of the neuron sweep
    membrane_pj_per_inference: float  # membrane read + write per neuron per timestep


def acc_bits(spec: LayerSpec) -> int | None:
    """Width the ACs accumulate at: the membrane (or readout accumulator); None = fp32."""
    if not spec.spiking:
        return None if spec.weight_bits is None else spec.membrane_bits
    if not spec.has_membrane_state:
        # stateless neuron: a per-timestep accumulator, no T term (docs/cost-models.md)
        if spec.weight_bits is None:
            return None
        return spec.weight_bits + max(0, math.ceil(math.log2(max(spec.fan_in, 1)))) + 1
    return spec.membrane_bits


def energy_coefficients(
    spec: LayerSpec, target: Target, weight_memory_kind: str, membrane_memory_kind: str
) -> EnergyCoefficients:
    """Per-action energies of one layer, from the target's tables and the layer's widths."""
    e_add = add_pj(target, acc_bits(spec))
    e_mac = mult_pj(target, spec.weight_bits, spec.input_bits) + e_add if not spec.input_is_spike else 0.0
    weight_capacity = spec.n_weights * spec.weight_storage_bits / 8
    e_w = memory_access_pj(target.memories[weight_memory_kind], spec.weight_read_bits, weight_capacity)
    membrane = 0.0
    state_bits = membrane_state_bits(spec)
    if state_bits:
        capacity = spec.n_neurons * state_bits / 8
        e_m = memory_access_pj(target.memories[membrane_memory_kind], state_bits, capacity)
        membrane = 2 * spec.n_neurons * spec.timesteps * e_m  # one read + one write
    return EnergyCoefficients(e_add, e_mac, e_w, e_add, membrane)


def static_energy_mj(target: Target, cycles: float) -> float:
    """Static power x latency of `cycles` at the target's clock, in mJ (0 without static power)."""
    return target.static_power_w * cycles / target.clock_hz * 1e3


def layer_energy(
    coeffs: EnergyCoefficients, acs: float, macs: int, neuron_ops: int, cycles: float, target: Target
) -> tuple[float, float, float, float, float]:
    """Energy of one layer per inference in mJ: counts x per-action energies, plus static power x
    latency. Returns (compute, weight memory, membrane memory, static, total), a plain tuple
    because evaluate() calls this once per layer on the screening hot path."""
    c = coeffs
    compute_pj = acs * c.ac_compute_pj + macs * c.mac_compute_pj + neuron_ops * c.neuron_op_pj
    weight_pj = (acs + macs) * c.weight_read_pj
    membrane_pj = c.membrane_pj_per_inference
    static_mj = static_energy_mj(target, cycles)
    compute_mj, weight_mj, membrane_mj = (x * PJ_TO_MJ for x in (compute_pj, weight_pj, membrane_pj))
    return compute_mj, weight_mj, membrane_mj, static_mj, compute_mj + weight_mj + membrane_mj + static_mj


def toggle_energies_pj(
    spec: LayerSpec, target: Target, weight_memory_kind: str, membrane_memory_kind: str,
    reference_toggle_rate: float = 0.5,
) -> dict[str, float]:
    """Energy of one bit toggle in each signal group of one layer's RTL (pJ), for the switching-activity
    estimate (cost_models/switching.py): the per-op energy this module books for the group's operation,
    over the bits that operation toggles when its operands are random (its width x reference_toggle_rate,
    1/2 for independent uniform bits). An RTL that switches like random data at the counted operations
    then costs what the count model says (docs/cost-models.md#switching-activity)."""
    coeffs = energy_coefficients(spec, target, weight_memory_kind, membrane_memory_kind)
    acc = acc_bits(spec) or 32  # None: fp32, no RTL; the fp32 add's width
    logic = coeffs.ac_compute_pj / (acc * reference_toggle_rate)
    weight = coeffs.weight_read_pj / (spec.weight_read_bits * reference_toggle_rate) if spec.weight_read_bits else 0.0
    product_bits = (spec.weight_bits or 32) + (spec.input_bits or 32)  # a W x A multiply's result width
    multiply = mult_pj(target, spec.weight_bits, spec.input_bits) / (product_bits * reference_toggle_rate)
    state_bits = membrane_state_bits(spec)
    membrane = logic
    if state_bits and membrane_memory_kind in target.memories:
        per_access = memory_access_pj(target.memories[membrane_memory_kind], state_bits, spec.n_neurons * state_bits / 8)
        membrane = per_access / (state_bits * reference_toggle_rate)
    return {"weight_rom": weight, "accumulators": logic, "multipliers": multiply, "neuron": logic,
            "membrane_ram": membrane, "control": logic}
