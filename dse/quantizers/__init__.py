"""Quantizer types, one module per method, behind one base class and a registry (Optuna's shape).

| name    | method (paper)                                                          | module     |
|---------|-------------------------------------------------------------------------|------------|
| uniform | symmetric k-bit weights, STE, fixed-point membranes (LSQ for `learned`) | uniform.py |
| tawq    | TaWQ: per-timestep ternary weights from a weight-LIF (arXiv 2511.17567) | tawq.py    |
| qsnn    | Q-SNN: binary weights, tanh membrane quantizer, WS-DR (ACM MM 2024)     | qsnn.py    |
| mfp     | MFP-QSNN: reset-free parallel integration, LSQ weights (ICASSP 2025)    | mfp.py     |
| ternary | ternary SNNs: TWN / TTQ, distillation (Front. Comput. Sci. 21(2))       | ternary.py |
| sigmoid | sum-of-sigmoids differentiable quantizer (IJCNN 2023)                   | sigmoid.py |

The registry imports a type's module on first use: dse.training.neurons imports this package for
round_ste, and the types import dse.training.neurons, so an eager import would be circular.
"""

from __future__ import annotations

import importlib

from dse.quantizers._base import LayerContext, QuantizerType, round_ste, sign_ste

# name -> (module, class); imported lazily by get_quantizer.
_REGISTRY: dict[str, tuple[str, str]] = {
    "uniform": ("dse.quantizers.uniform", "UniformQuantizer"),
    "tawq": ("dse.quantizers.tawq", "TaWQQuantizer"),
    "qsnn": ("dse.quantizers.qsnn", "QSNNQuantizer"),
    "mfp": ("dse.quantizers.mfp", "MFPQuantizer"),
    "ternary": ("dse.quantizers.ternary", "TernaryQuantizer"),
    "sigmoid": ("dse.quantizers.sigmoid", "SigmoidQuantizer"),
}


def quantizer_class(name: str) -> type[QuantizerType]:
    """The QuantizerType subclass registered under `name`."""
    try:
        module, cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}; accepted: {', '.join(_REGISTRY)}") from None
    return getattr(importlib.import_module(module), cls)


def get_quantizer(name: str) -> QuantizerType:
    """A fresh instance of the quantizer type registered under `name`."""
    return quantizer_class(name)()


def registered_quantizers() -> list[str]:
    return list(_REGISTRY)


__all__ = [
    "LayerContext", "QuantizerType", "get_quantizer", "quantizer_class", "registered_quantizers",
    "round_ste", "sign_ste",
]
