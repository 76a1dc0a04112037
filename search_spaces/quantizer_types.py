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
}


def get_profile(name: str) -> QuantizerProfile:
    """The profile of a registered quantizer type, or ValueError naming the accepted ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}; accepted: {', '.join(PROFILES)}") from None
