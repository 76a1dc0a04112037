"""Quantizer types, one module per method, behind one base class and a registry (Optuna's shape)."""

from __future__ import annotations

from dse.quantizers._base import LayerContext, QuantizerType, round_ste, sign_ste
from dse.quantizers.uniform import UniformQuantizer

_REGISTRY: dict[str, type[QuantizerType]] = {cls.name: cls for cls in (UniformQuantizer,)}


def get_quantizer(name: str) -> QuantizerType:
    """A fresh instance of the quantizer type registered under `name`."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}; accepted: {', '.join(_REGISTRY)}") from None


def registered_quantizers() -> list[str]:
    return list(_REGISTRY)


__all__ = ["LayerContext", "QuantizerType", "get_quantizer", "registered_quantizers", "round_ste", "sign_ste"]
