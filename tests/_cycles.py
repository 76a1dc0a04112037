"""The cost model's cycles of every simulated sample (cost_models/latency.py), counted from the
integer reference's spikes and the inputs, for the Verilog tests to compare with the simulator's."""

from __future__ import annotations

import numpy as np

from cost_models.latency import sample_cycles
from cost_models.network import layer_specs
from dse.hardware.selfcheck import layer_traffic


def model_cycles(cand, spikes, inputs) -> np.ndarray:
    """Per sample: the template's cycles with that sample's events (event input: the 1s of its frames
    [T, B, ...]) and the spikes of every spiking layer ([T, B, ...] each, integer_sim's form)."""
    specs = layer_specs(cand)
    if cand.input_kind == "events":
        frames = np.asarray(inputs)
        first = frames.reshape(frames.shape[0], frames.shape[1], -1).sum(axis=(0, 2))
    else:
        first = np.zeros(int(np.asarray(inputs).shape[0]))
    events, emitted = layer_traffic(specs, spikes, first)
    return np.array(sample_cycles(specs, cand.input_shape, events, emitted))
