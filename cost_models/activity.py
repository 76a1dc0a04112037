"""Assumed activity: an Activity built from a uniform firing rate, for estimates without training.

`dse estimate` and what-if studies need spike counts before any model has run. The simplest
assumption that keeps the counts' structure is a uniform rate R: every spiking neuron emits R
spikes per timestep, so a spike-input layer sees R x (its input elements) x T events per
inference. Input elements are counted after pooling (the layer's own in_shape), so a pooled
feature map of C x H/2 x W/2 neurons gives R x C x H/2 x W/2 x T events. See
docs/cost-models.md#activity-from-rate for what this ignores.
"""

from __future__ import annotations

import math

from cost_models.network import layer_specs
from cost_models.report import Activity, LayerActivity
from search_spaces.candidate import Candidate

DEFAULT_FIRING_RATE = 0.1  # spikes per neuron per timestep


def activity_from_rate(candidate: Candidate, rate: float) -> Activity:
    """Activity of every weight layer under a uniform firing rate `rate` (0 <= rate <= 1).

    Spike-input layers: input_events = rate x prod(in_shape) x T (in_shape is after pooling).
    Layer 0 of a static-input candidate reads the dense input: its input_events are the T
    presentations of every input element (informative only; its MACs do not depend on activity).
    Layer 0 of an event-input candidate reads binary events, also at rate R.
    output_spikes = rate x n_neurons x T for spiking layers, 0 for the readout.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        raise ValueError(f"firing rate must be a number in [0, 1], got {rate!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"firing rate must be in [0, 1] spikes per neuron per timestep, got {rate}")
    layers: dict[str, LayerActivity] = {}
    for spec in layer_specs(candidate):
        inputs = math.prod(spec.in_shape) * spec.timesteps
        events = float(rate * inputs) if spec.input_is_spike else float(inputs)
        spikes = float(rate * spec.n_neurons * spec.timesteps) if spec.spiking else 0.0
        layers[spec.name] = LayerActivity(events, spikes)
    return Activity(layers)
