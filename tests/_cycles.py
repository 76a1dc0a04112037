"""The cost model's cycles of every simulated sample (cost_models/latency.py), counted from the
integer reference's spikes and the inputs, for the Verilog tests to compare with the simulator's."""

from __future__ import annotations

import numpy as np

from cost_models.latency import sample_cycles
from cost_models.network import layer_specs


def model_cycles(cand, spikes, inputs) -> np.ndarray:
    """Per sample: the template's cycles with that sample's events (event input: the 1s of its frames
    [T, B, ...]) and the spikes of every spiking layer ([T, B, ...] each, integer_sim's form)."""
    emitted = [np.asarray(s).reshape(s.shape[0], s.shape[1], -1).sum(axis=(0, 2)) for s in spikes]
    if cand.input_kind == "events":
        frames = np.asarray(inputs)
        first = frames.reshape(frames.shape[0], frames.shape[1], -1).sum(axis=(0, 2))
    else:
        first = np.zeros(int(np.asarray(inputs).shape[0]))
    return np.array(sample_cycles(layer_specs(cand), cand.input_shape, first, emitted))
