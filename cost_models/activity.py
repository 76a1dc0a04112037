"""The activity input of the cost pipeline: Activity / LayerActivity (measured or assumed spike
counts per layer), and activity_from_rate(), an Activity built from a uniform firing rate for
estimates without training. Kept beside the layer specs (network.py), ahead of every stage that
reads it, so the counts stage and compat.py need nothing from report.py.

`dse estimate` and what-if studies need spike counts before any model has run. The simplest
assumption that keeps the counts' structure is a uniform rate R: every spiking neuron emits R
spikes per timestep, so a spike-input layer sees R x (its input elements) x T events per
inference. Input elements are counted after pooling (the layer's own in_shape), so a pooled
feature map of C x H/2 x W/2 neurons gives R x C x H/2 x W/2 x T events. See
docs/cost-models.md#activity-from-rate for what this ignores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.network import layer_specs
from search_spaces.candidate import Candidate

DEFAULT_FIRING_RATE = 0.1  # spikes per neuron per timestep


@dataclass(frozen=True)
class LayerActivity:
    """Measured activity of one layer, per inference (mean over samples, summed over T).

    input_events: nonzero input elements, as a total (float) or per input position (ndarray of
    the layer's in_shape) for exact conv counts. output_spikes: spikes emitted (0 for readout).

    For the effective ACs (docs/cost-models.md#effective-acs; both optional, None = dense, and
    neither changes any other count): nonzero_weight_fraction, the share of the layer's weights
    that are not zero (0..1, mean over weight sets); nonzero_fanout, per input element (the
    in_shape, or its size for a linear layer) the number of nonzero weights an event there meets,
    i.e. its fan-out counting only nonzero weights (exact per position; mean over weight sets for
    a type with one set per timestep).
    """

    input_events: float | np.ndarray
    output_spikes: float = 0.0
    nonzero_weight_fraction: float | None = None
    nonzero_fanout: np.ndarray | None = None


@dataclass(frozen=True)
class Activity:
    """Activity of a whole network keyed by layer name ('layer0', 'layer1', ...)."""

    layers: dict[str, LayerActivity]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (arrays become nested lists); the nonzero-weight fields only when set."""
        out: dict[str, Any] = {}
        for name, a in self.layers.items():
            d = {"input_events": to_plain(a.input_events), "output_spikes": float(a.output_spikes)}
            if a.nonzero_weight_fraction is not None:
                d["nonzero_weight_fraction"] = float(a.nonzero_weight_fraction)
            if a.nonzero_fanout is not None:
                d["nonzero_fanout"] = to_plain(np.asarray(a.nonzero_fanout, dtype=np.float64))
            out[name] = d
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Activity":
        layers = {}
        for name, a in data.items():
            events = a["input_events"]
            events = np.asarray(events, dtype=np.float64) if isinstance(events, list) else float(events)
            fraction = a.get("nonzero_weight_fraction")
            fanout = a.get("nonzero_fanout")
            layers[name] = LayerActivity(
                events, float(a.get("output_spikes", 0.0)),
                None if fraction is None else float(fraction),
                None if fanout is None else np.asarray(fanout, dtype=np.float64),
            )
        return cls(layers)


def to_plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain Python for JSON (Activity and CostReport to_dict)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
