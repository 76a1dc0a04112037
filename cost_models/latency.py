"""Cycles of one inference on the project's Verilog template, counted exactly from its state
machines (dse/hardware/verilog/snn_layer.v, snn_conv.v, the sequencer and event intake of
dse/hardware/verilog_template.py); docs/cost-models.md#latency has the derivation.

The template runs every layer of a timestep one after the other and the timesteps one after the
other; nothing overlaps. Every count is linear in the events a layer reads and the spikes it
writes, so the cycles of the mean activity are the mean of the per-sample cycles: the same
formula gives one sample's cycles exactly and a data set's mean exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from cost_models.fpga import event_beat_bits, reads_events
from cost_models.network import LayerSpec

# snn_layer.v, one group of P neurons per timestep: S_ACC takes events + 1 cycles (the last one
# sees e == count), S_DRAIN a fixed 3, S_RD, S_MUL and S_UPD one each, S_EMIT one per spike plus
# the cycle that finds the mask empty.
LINEAR_GROUP_OVERHEAD_CYCLES = 1 + 3 + 1 + 1 + 1 + 1
# snn_conv.v, one output position of a group: S_POS, 9 x CIN taps in S_ACC, S_DRAIN, S_MUL,
# S_UPD, P lanes in S_EMIT, S_NEXT. A position outside the map (a 2x2 pooling block cut by an odd
# edge) takes S_POS and S_NEXT only.
CONV_POSITION_OVERHEAD_CYCLES = 1 + 1 + 1 + 1 + 1
CONV_CUT_POSITION_CYCLES = 2
# Per layer and timestep: S_IDLE takes start (1), and the done pulse reaches the next layer's start
# through the sequencer's register (1): 2 cycles between one layer's last state and the next
# layer's first.
LAYER_HANDOFF_CYCLES = 2
# Static input: the testbench counts from the cycle the top takes `start`; the sequencer's start
# register adds one cycle before layer 0's S_IDLE sees it.
STATIC_START_CYCLES = 1
# Event input, per timestep: the intake's in_start register (1), one cycle per beat, one per event
# of a linear layer 0 (written to its event list), the cycle that sees the last beat done (1), and
# in_done reaching layer 0's start register (1).
EVENT_FRAME_OVERHEAD_CYCLES = 3


@dataclass(frozen=True)
class LayerTraffic:
    """What one layer reads and writes in one inference, summed over the T timesteps: the input
    events of its event list (spike-input linear layers) and the spikes it emits (0 for readout).
    Layers that scan every input value (static layer 0, a linear layer after a conv, conv layers)
    take a fixed count and ignore `input_events`."""

    input_events: float = 0.0
    output_spikes: float = 0.0


def linear_reads_event_list(spec: LayerSpec, previous: LayerSpec | None) -> bool:
    """A linear layer walks an event list (spikes or an event frame) rather than every input value:
    not static layer 0 and not a layer after a conv (the template reads the conv's map densely)."""
    if spec.kind != "linear":
        return False
    if previous is None:
        return reads_events(spec)
    return previous.kind != "conv"


def event_frame_beats(input_shape: Sequence[int]) -> int:
    """Beats of one event frame (C, H, W) on the stream, at the export's default beat width (one
    row rounded up to a power of two)."""
    return math.ceil(math.prod(input_shape) / event_beat_bits(int(input_shape[-1])))


def input_stage_cycles(spec: LayerSpec, input_shape: Sequence[int], input_events: float) -> float:
    """Cycles of the input stage over T timesteps, source never stalling: 1 (static), or per frame
    its beats and, for a linear layer 0, one cycle per event written to the event list."""
    if not reads_events(spec):
        return float(STATIC_START_CYCLES)
    per_frame = event_frame_beats(input_shape) + EVENT_FRAME_OVERHEAD_CYCLES
    listed = input_events if spec.kind == "linear" else 0.0
    return float(spec.timesteps * per_frame + listed)


def layer_cycles(spec: LayerSpec, previous: LayerSpec | None, traffic: LayerTraffic) -> float:
    """Cycles of one layer over T timesteps, its handoff to the next layer included."""
    t = spec.timesteps
    p = spec.parallelism
    if spec.kind == "conv":
        cin, h, w = spec.in_shape
        groups = math.ceil(spec.out_channels / p)
        side = 2 if spec.pool_after else 1
        visited = math.ceil(h / side) * side * math.ceil(w / side) * side
        per_group = h * w * (9 * cin + p + CONV_POSITION_OVERHEAD_CYCLES) + (visited - h * w) * CONV_CUT_POSITION_CYCLES
        return float(t * (groups * per_group + LAYER_HANDOFF_CYCLES))
    groups = math.ceil(spec.n_neurons / p)
    if linear_reads_event_list(spec, previous):
        events = traffic.input_events
    else:
        events = t * spec.fan_in
    spikes = traffic.output_spikes if spec.spiking else 0.0
    return float(groups * (events + t * LINEAR_GROUP_OVERHEAD_CYCLES) + spikes + t * LAYER_HANDOFF_CYCLES)


def inference_cycles(specs: Sequence[LayerSpec], traffic: Sequence[LayerTraffic],
                     input_shape: Sequence[int]) -> list[float]:
    """Cycles per layer of one inference of a network whose input is `input_shape` (C, H, W); the
    input stage is booked to layer 0. Their sum is the template's cycles from `start` (static) or
    from the previous `done` (events) to `done`."""
    if len(specs) != len(traffic):
        raise ValueError(f"{len(specs)} layers but traffic for {len(traffic)}")
    out = []
    for i, (spec, tr) in enumerate(zip(specs, traffic)):
        cycles = layer_cycles(spec, specs[i - 1] if i else None, tr)
        if i == 0:
            cycles += input_stage_cycles(spec, input_shape, tr.input_events)
        out.append(cycles)
    return out


def sample_cycles(specs: Sequence[LayerSpec], input_shape: Sequence[int], input_events: Sequence[Sequence[float]],
                  emitted: Sequence[Sequence[float]]) -> list[float]:
    """Cycles of each sample of a batch: `input_events[i][b]`, the events layer i reads for sample b (its
    event list; ignored by layers that scan every input value), and `emitted[i][b]`, the spikes layer i
    emits for it, both summed over T (dse/hardware/selfcheck.py layer_traffic gives both)."""
    samples = len(input_events[0]) if len(input_events) else 0
    return [sum(inference_cycles(specs, [LayerTraffic(float(input_events[i][b]), float(emitted[i][b]))
                                         for i in range(len(specs))], input_shape))
            for b in range(samples)]
