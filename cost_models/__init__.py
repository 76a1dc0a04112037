"""Analytic cost models of quantized SNNs: network description, targets, counts, energy,
FPGA resources and latency. Pure Python + numpy + networkx + PyYAML (no torch, no Optuna).

Layout (one job per module):
- network.py  Candidate -> ordered LayerSpecs and a networkx DiGraph
- ops.py      ACs / MACs / neuron-update counts (exact conv fan-out maps)
- targets.py  target YAML loading and validation (every constant with its source)
- energy.py   per-op and per-access energies from a target's tables
- fpga.py     BRAM/LUTRAM packing, LUT/FF/DSP, latency cycles of the event-driven template
- report.py   evaluate() -> CostReport, quantity names
- screen.py   screening before training against budgets and device capacities
- activity.py an Activity from an assumed uniform firing rate (estimates without training)
- compat.py   SpikingJelly op_counter compatibility: SynOps and estimate_simple_energy figures
"""

from cost_models.activity import DEFAULT_FIRING_RATE, activity_from_rate
from cost_models.compat import SpikingJellyReport, spikingjelly_simple_energy, synops
from cost_models.network import LayerSpec, build_network, layer_specs, weight_layers
from cost_models.report import (
    DYNAMIC_QUANTITIES,
    QUANTITY_FIELDS,
    STATIC_QUANTITIES,
    Activity,
    CostReport,
    LayerActivity,
    LayerCost,
    evaluate,
    quantity,
)
from cost_models.screen import ScreenResult, constraint_values, screen
from cost_models.targets import Target, TargetError, list_targets, load_target

__all__ = [
    "Activity",
    "CostReport",
    "DEFAULT_FIRING_RATE",
    "DYNAMIC_QUANTITIES",
    "LayerActivity",
    "LayerCost",
    "LayerSpec",
    "QUANTITY_FIELDS",
    "STATIC_QUANTITIES",
    "ScreenResult",
    "SpikingJellyReport",
    "Target",
    "TargetError",
    "activity_from_rate",
    "build_network",
    "constraint_values",
    "evaluate",
    "layer_specs",
    "list_targets",
    "load_target",
    "quantity",
    "screen",
    "spikingjelly_simple_energy",
    "synops",
    "weight_layers",
]
