"""Analytic cost models of quantized SNNs: network description, targets, counts, energy,
FPGA resources and latency. Pure Python + numpy + networkx + PyYAML (no torch, no Optuna).

One evaluation is a one-way pipeline (Accelergy/Timeloop's split: the architecture, the action
counts and the energy table kept apart); each stage imports only the ones before it:
- network.py   1 layer specs: Candidate -> ordered LayerSpecs and a networkx DiGraph
- ops.py       2 counts: ACs / MACs / neuron updates (exact conv fan-out maps), stored bits
- fpga.py      3 hardware template: memory mapping (BRAM/LUTRAM/SRAM), LUT/FF/DSP, utilisation,
               latency cycles of the event-driven template
- energy.py    4 energy: counts x the target's per-op / per-access table + static power x latency
- report.py    5 report: evaluate() -> CostReport, quantity names
Around it:
- activity.py  the activity input (Activity, LayerActivity) and activity_from_rate()
- targets.py   target YAML loading and validation (every constant with its source)
- template_constants.py  the template's LUT/FF constants (FINN defaults or fitted ones)
- screen.py    screening before training against budgets and device capacities
- compat.py    SpikingJelly op_counter compatibility: SynOps and estimate_simple_energy figures
- synthesis_reports.py, calibrate.py  synthesis report parsers; fit of the template constants
"""

from cost_models.activity import DEFAULT_FIRING_RATE, Activity, LayerActivity, activity_from_rate
from cost_models.compat import SpikingJellyReport, spikingjelly_simple_energy, synops
from cost_models.network import LayerSpec, build_network, layer_specs, weight_layers
from cost_models.report import (
    DYNAMIC_QUANTITIES,
    QUANTITY_FIELDS,
    STATIC_QUANTITIES,
    CostReport,
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
