"""What each quantizer type allows and what it means for hardware, in pure Python.

The torch side of a type lives in dse/quantizers/; this profile is what the search space
validates against and what the cost models read (they may not import torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class QuantizerProfile:
    """Bits a quantizer type accepts, its options, and the facts the cost model needs."""

    name: str
    paper: str
    weight_bits: tuple[int | None, ...]  # accepted weight widths; None = full precision
    membrane_bits: tuple[int | None, ...]  # accepted membrane widths; () = not applicable
    options: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # option -> accepted values
    default_options: dict[str, Any] = field(default_factory=dict)
    has_membrane_state: bool = True  # False: the neuron keeps no membrane between timesteps
    weights_per_timestep: bool = False  # True: a different weight set is read at every timestep
    # Bits stored per weight for a given weight width and T (the storage encoding).
    storage_bits_per_weight: Callable[[int | None, int], int] | None = None
    # Width pinned for the first and the readout layer (Q-SNN's 8-bit edges); None = no pinning.
    # The other (hidden) layers then take the accepted widths other than this one.
    edge_layer_bits: int | None = None

    def hidden_weight_bits(self, allowed: tuple[int | None, ...] | None = None) -> tuple[int | None, ...]:
        """Widths a hidden (non-edge) layer may take among `allowed` (default: all accepted)."""
        allowed = self.weight_bits if allowed is None else allowed
        if self.edge_layer_bits is None:
            return tuple(allowed)
        return tuple(b for b in allowed if b != self.edge_layer_bits)

    def layer_weight_bits(
        self, index: int, n_weight_layers: int, allowed: tuple[int | None, ...] | None = None
    ) -> tuple[int | None, ...]:
        """Widths weight layer `index` may take: the pinned edge width, or the hidden widths."""
        if self.edge_layer_bits is not None and index in (0, n_weight_layers - 1):
            return (self.edge_layer_bits,)
        return self.hidden_weight_bits(allowed)

    def check_weight_bits(self, bits: int | None) -> None:
        if bits not in self.weight_bits:
            raise ValueError(
                f"quantizer {self.name!r} cannot take weight bits {_label(bits)}; "
                f"accepted: {_labels(self.weight_bits)}"
            )

    def check_membrane_bits(self, bits: int | None) -> None:
        if not self.membrane_bits:
            raise ValueError(f"quantizer {self.name!r} keeps no membrane: membrane bits do not apply")
        if bits not in self.membrane_bits:
            raise ValueError(
                f"quantizer {self.name!r} cannot take membrane bits {_label(bits)}; "
                f"accepted: {_labels(self.membrane_bits)}"
            )

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Return the options merged over the defaults; refuse unknown keys and values."""
        merged = dict(self.default_options)
        for key, value in options.items():
            if key not in self.options:
                accepted = ", ".join(sorted(self.options)) or "none"
                raise ValueError(f"quantizer {self.name!r} has no option {key!r}; accepted: {accepted}")
            if value not in self.options[key]:
                raise ValueError(
                    f"quantizer {self.name!r} option {key!r} cannot be {value!r}; "
                    f"accepted: {', '.join(map(str, self.options[key]))}"
                )
            merged[key] = value
        return merged


def _label(bits: int | None) -> str:
    return "fp" if bits is None else str(bits)


def _labels(bits: tuple[int | None, ...]) -> str:
    return ", ".join(_label(b) for b in bits)


_INT_BITS = tuple(range(1, 17))

PROFILES: dict[str, QuantizerProfile] = {
    "uniform": QuantizerProfile(
        name="uniform",
        paper="symmetric uniform k-bit fake quantization with STE (LSQ, Esser et al., ICLR 2020)",
        weight_bits=(*_INT_BITS, None),
        membrane_bits=(*range(2, 17), None),  # a membrane needs a sign bit and the threshold bit
        options={"scale": ("mean", "max", "learned")},
        default_options={"scale": "mean"},
    ),
    "tawq": QuantizerProfile(
        name="tawq",
        paper="TaWQ: temporal-adaptive weight quantization for SNNs (arXiv 2511.17567, 2025)",
        weight_bits=(2,),  # ternary {-1, 0, +1} per timestep: one 2-bit code per weight and timestep
        membrane_bits=(*range(2, 17), None),
        options={"scale": ("paper", "latent")},
        default_options={"scale": "paper"},
        weights_per_timestep=True,
        # Stored as T ternary codes of 2 bits (dse/quantizers/tawq.py explains the choice).
        storage_bits_per_weight=lambda bits, T: 2 * T,
    ),
    "qsnn": QuantizerProfile(
        name="qsnn",
        paper="Q-SNN with weight-spike dual regulation (Wei et al., ACM MM 2024, arXiv 2406.13672)",
        weight_bits=(1, 8),  # binary hidden layers; the first and the readout layer are 8-bit
        membrane_bits=(*range(2, 17), None),
        options={"rate_layers": ("inner", "all")},
        default_options={"rate_layers": "inner"},
        edge_layer_bits=8,
    ),
    "mfp": QuantizerProfile(
        name="mfp",
        paper="MFP-QSNN: memory-free and parallel quantized SNN (Zhang et al., ICASSP 2025, arXiv 2503.00040)",
        weight_bits=(*range(1, 9), None),
        membrane_bits=(),  # reset-free closed-form integration: no membrane register to quantize
        has_membrane_state=False,
    ),
    "ternary": QuantizerProfile(
        name="ternary",
        paper="Ternary quantization of SNNs (Wu et al., Front. Comput. Sci. 21(2):2102326)",
        weight_bits=(2,),
        membrane_bits=(*range(2, 17), None),
        options={"algorithm": ("twn", "ttq"), "distill": (False, True)},
        default_options={"algorithm": "twn", "distill": False},
    ),
    "sigmoid": QuantizerProfile(
        name="sigmoid",
        paper="Differentiable quantization function for SNN QAT (Shymyrbay, Fouda, Eltawil, IJCNN 2023)",
        weight_bits=(1, 2, 3, 4, 8),
        membrane_bits=(*range(2, 17), None),
        options={"temperature": (10, 20)},
        default_options={"temperature": 10},
    ),
}


def get_profile(name: str) -> QuantizerProfile:
    """The profile of a registered quantizer type, or ValueError naming the accepted ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}; accepted: {', '.join(PROFILES)}") from None
