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
"""

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
    "DYNAMIC_QUANTITIES",
    "LayerActivity",
    "LayerCost",
    "LayerSpec",
    "QUANTITY_FIELDS",
    "STATIC_QUANTITIES",
    "ScreenResult",
    "Target",
    "TargetError",
    "build_network",
    "constraint_values",
    "evaluate",
    "layer_specs",
    "list_targets",
    "load_target",
    "quantity",
    "screen",
    "weight_layers",
]
